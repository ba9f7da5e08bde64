"""Manual user entry's Directories tab binds at creation, or creates nothing."""

from __future__ import annotations

from typing import Any

from django.test import Client

from lockstep.directory.models import User
from lockstep.m365 import sync_loop
from lockstep.m365.models import Directory, UserBinding
from m365sim.testing import SimServer

PASSWORD = "Tr1cky-Kangaroo-Lamp"


def form(**overrides: Any) -> dict[str, Any]:
    return {
        "username": "nora",
        "email": "nora@contoso.com",
        "first_name": "Nora",
        "last_name": "Quinn",
        "state": "staged",
        "specify_password": "on",
        "initial_password": PASSWORD,
        **overrides,
    }


def test_tab_lists_directories_and_binds_at_creation(
    admin_client: Client, directory: Directory, sim: SimServer
) -> None:
    page = admin_client.get("/users/new/")
    assert f'name="bind_directory" value="{directory.pk}"' in page.content.decode()
    response = admin_client.post("/users/new/", form(bind_directory=str(directory.pk)))
    assert response.status_code == 302
    user = User.objects.get(username="nora")
    assert UserBinding.objects.filter(user=user, directory=directory).exists()
    sync_loop.run_once(ports=sync_loop.PortCache())
    account = sim.sim.tenant.find_user("nora@contoso.com")
    assert account is not None and sim.sim.tenant.passwords[account["id"]] == PASSWORD


def test_refused_bind_creates_nothing_and_says_why(admin_client: Client, directory: Directory) -> None:
    response = admin_client.post(
        "/users/new/", form(email="nora@northwind.example", bind_directory=str(directory.pk))
    )
    assert response.status_code == 200
    assert "not a verified domain" in response.content.decode()
    assert not User.objects.filter(username="nora").exists()
    assert not UserBinding.objects.exists()
