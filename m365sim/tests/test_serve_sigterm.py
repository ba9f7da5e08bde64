"""`m365sim serve --state FILE` keeps the tenant when it is stopped with SIGTERM, as with Ctrl+C."""

from __future__ import annotations

from pathlib import Path

from m365sim.testing import SimServer

NEW_USER = {
    "accountEnabled": True,
    "displayName": "Kept Across Restarts",
    "mailNickname": "kept",
    "userPrincipalName": "kept@contoso.com",
    "passwordProfile": {"password": "Xq7#mLp2vR!k", "forceChangePasswordNextSignIn": False},
}


def test_sigterm_saves_the_state_and_a_restart_loads_it(tmp_path: Path) -> None:
    state = tmp_path / "tenant.json"
    first = SimServer(seed="demo", subprocess_mode=True, state_file=state, ca_dir=tmp_path / "ca")
    with first as server, server.client() as graph:
        created = graph.post("/users", json=NEW_USER)
        assert created.status_code == 201, created.text
    # leaving the block stops the process with SIGTERM (Popen.terminate)
    assert state.exists() and "kept@contoso.com" in state.read_text()
    second = SimServer(seed="demo", subprocess_mode=True, state_file=state, ca_dir=tmp_path / "ca")
    with second as server, server.client() as graph:
        again = graph.get(f"/users/{created.json()['id']}")
        assert again.status_code == 200 and again.json()["userPrincipalName"] == "kept@contoso.com"
