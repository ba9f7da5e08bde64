"""The test-only password check (/_sim/password-check): is a password current, and did its last
write ask for a change at the next sign-in (forceChangePasswordNextSignIn, Graph's default true)."""

from __future__ import annotations

import httpx

from m365sim.testing import SimServer

from .test_users import new_user


def test_password_check_and_force_change(sim_server: SimServer, graph: httpx.Client) -> None:
    body = new_user()
    body["passwordProfile"] = {"password": "Created-Pass-12x", "forceChangePasswordNextSignIn": True}
    created = graph.post("/users", json=body)
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    assert sim_server.password_is_current(uid, "Created-Pass-12x")
    assert not sim_server.password_is_current(uid, "Created-Pass-12y")
    assert sim_server.password_must_change(uid)
    profile = {"password": "Changed-Pass-34y", "forceChangePasswordNextSignIn": False}
    assert graph.patch(f"/users/{uid}", json={"passwordProfile": profile}).status_code == 204
    assert sim_server.password_is_current(body["userPrincipalName"], "Changed-Pass-34y")
    assert not sim_server.password_must_change(uid)
    # omitted: Graph's default asks for a change
    assert (
        graph.patch(f"/users/{uid}", json={"passwordProfile": {"password": "Again-Pass-56z"}}).status_code
        == 204
    )
    assert sim_server.password_must_change(uid)
