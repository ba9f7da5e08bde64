"""Admin sign-in throttle (issue 11 point 3): counters every process shares, the real client
behind trusted proxies, a known browser never locked out, HSTS and is_secure from trusted
proxies only."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

from lockstep.console import devices, throttle
from lockstep.directory.models import Administrator, AdminSignInThrottle
from lockstep.directory.services import admins

PASSWORD = "Correct-Horse-Battery-9"
PROXY = "10.0.0.1"


def login(client: Client, email: str = "owner@contoso.com", password: str = PASSWORD, **extra: Any):
    return client.post(reverse("console:login"), {"email": email, "password": password}, **extra)


def spray(client: Client, count: int, **extra: Any) -> None:
    for n in range(count):
        assert login(client, email=f"nobody{n}@example.org", password="x", **extra).status_code == 200


@pytest.mark.django_db
def test_the_counters_live_in_the_database_not_in_one_process(client: Client, owner: Administrator) -> None:
    for n in range(throttle.ACCOUNT_LIMIT):
        login(client, password=f"Wrong-{n}", REMOTE_ADDR=f"10.1.0.{n}")
    cache.clear()  # what another web process would see of this one's memory: nothing
    assert login(Client(), REMOTE_ADDR="10.2.0.1").status_code == 429
    row = AdminSignInThrottle.objects.get(scope="account", key="owner@contoso.com")
    assert row.failures == throttle.ACCOUNT_LIMIT and row.locked_until is not None


@pytest.mark.django_db
def test_the_lock_starts_at_the_limit_not_before(client: Client, owner: Administrator) -> None:
    for n in range(throttle.ACCOUNT_LIMIT - 1):
        login(client, password=f"Wrong-{n}", REMOTE_ADDR="10.3.0.1")
    assert (
        login(Client(), REMOTE_ADDR="10.3.0.2").status_code == 302
    )  # one short of the limit: the right password works
    spray(client, throttle.SOURCE_LIMIT - 1, REMOTE_ADDR="10.3.0.9")
    assert (
        login(Client(), email="nobody@example.org", password="x", REMOTE_ADDR="10.3.0.9").status_code == 200
    )
    assert login(Client(), REMOTE_ADDR="10.3.0.9").status_code == 429  # the twentieth failure locked it


@pytest.mark.django_db
def test_a_sprayer_cannot_lock_the_owner_out_of_a_known_browser(owner: Administrator) -> None:
    browser = Client()
    assert login(browser, REMOTE_ADDR="192.0.2.7").status_code == 302
    assert devices.COOKIE in browser.cookies
    browser.post(reverse("console:logout"))
    spray(Client(), throttle.SOURCE_LIMIT, REMOTE_ADDR="192.0.2.7")  # same office address
    assert login(Client(), REMOTE_ADDR="192.0.2.7").status_code == 429  # a stranger's browser waits
    assert login(browser, REMOTE_ADDR="192.0.2.7").status_code == 302  # the owner's does not


@pytest.mark.django_db
def test_a_known_browser_counts_only_with_the_current_password(owner: Administrator) -> None:
    browser = Client()
    login(browser, REMOTE_ADDR="192.0.2.7")
    browser.post(reverse("console:logout"))
    admins_password = "Another-Horse-Battery-7"
    owner.set_password(admins_password)
    owner.save()
    spray(Client(), throttle.SOURCE_LIMIT, REMOTE_ADDR="192.0.2.7")
    assert login(browser, password=admins_password, REMOTE_ADDR="192.0.2.7").status_code == 429


@pytest.mark.django_db
@override_settings(TRUSTED_PROXIES=[PROXY])
def test_behind_a_trusted_proxy_each_client_is_counted_apart(owner: Administrator) -> None:
    spray(Client(), throttle.SOURCE_LIMIT, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert login(Client(), REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
    assert login(Client(), REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.9").status_code == 302


@pytest.mark.django_db
@override_settings(TRUSTED_PROXIES=[PROXY])
def test_a_forwarded_header_from_anyone_else_is_not_believed(owner: Administrator) -> None:
    for n in range(throttle.SOURCE_LIMIT):  # a new made-up address each time does not dodge the lock
        login(
            Client(),
            email=f"n{n}@example.org",
            password="x",
            REMOTE_ADDR="192.0.2.50",
            HTTP_X_FORWARDED_FOR=f"198.18.0.{n}",
        )
    assert login(Client(), REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR="198.18.1.1").status_code == 429


@pytest.mark.django_db
@override_settings(TRUSTED_PROXIES=[PROXY])
def test_hsts_and_is_secure_follow_x_forwarded_proto_only_from_trusted_proxies(client: Client) -> None:
    via_proxy = client.get(reverse("console:login"), REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_PROTO="https")
    assert via_proxy.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    spoofed = client.get(reverse("console:login"), REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_PROTO="https")
    assert "Strict-Transport-Security" not in spoofed.headers
    plain = client.get(reverse("console:login"), REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_PROTO="http")
    assert "Strict-Transport-Security" not in plain.headers
    direct_tls = client.get(reverse("console:login"), REMOTE_ADDR="192.0.2.1", secure=True)
    assert "Strict-Transport-Security" in direct_tls.headers


@pytest.mark.django_db
def test_a_second_administrator_is_not_locked_by_the_first_ones_guesser(owner: Administrator) -> None:
    admins.create_admin(organization=owner.organization, email="second@contoso.com", password=PASSWORD)
    for n in range(throttle.ACCOUNT_LIMIT):
        login(Client(), password=f"Wrong-{n}", REMOTE_ADDR=f"10.4.0.{n}")
    assert login(Client(), email="second@contoso.com", REMOTE_ADDR="10.4.1.1").status_code == 302
