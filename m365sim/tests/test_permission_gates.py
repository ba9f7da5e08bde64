"""Each Graph route accepts exactly Microsoft's documented application permissions (§12.1)."""

from __future__ import annotations

import jwt
import pytest

from m365sim.state import USER_ADMIN
from m365sim.testing import SimServer, app_client

# (path, a permission Microsoft does not list for it, a permission it lists)
GATES = [
    ("/organization", "User.Read.All", "Organization.Read.All"),
    ("/organization", "Domain.Read.All", "Directory.Read.All"),
    ("/domains", "Domain-InternalFederation.ReadWrite.All", "Domain.Read.All"),
    ("/domains/fabrikam.com/federationConfiguration", "Directory.Read.All", "Domain.Read.All"),
    ("/domains/fabrikam.com/federationConfiguration", "Directory.ReadWrite.All", "Domain.ReadWrite.All"),
    ("/roleManagement/directory/roleAssignments", "Directory.ReadWrite.All", "RoleManagement.Read.Directory"),
    ("/roleManagement/directory/roleAssignments", "User.ReadWrite.All", "Directory.Read.All"),
    ("/users/delta", "User.ReadBasic.All", "User.Read.All"),
    ("/directory/deletedItems/microsoft.graph.user", "User.ReadBasic.All", "User.Read.All"),
    ("/servicePrincipals", "User.ReadWrite.All", "Application.Read.All"),
    ("/users", "Group.ReadWrite.All", "User.ReadBasic.All"),
]


@pytest.mark.parametrize(("path", "refused", "allowed"), GATES)
def test_route_gate_is_microsofts_list(sim_server: SimServer, path: str, refused: str, allowed: str) -> None:
    with app_client(sim_server, [refused]) as c:
        r = c.get(path)
        assert r.status_code == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied"
    with app_client(sim_server, [allowed]) as c:
        r = c.get(path)
        if path.endswith("/federationConfiguration"):  # fabrikam.com is managed: 404, past the gate (§12.3)
            assert r.status_code == 404 and r.json()["error"]["code"] == "Request_ResourceNotFound"
        else:
            assert r.status_code == 200


def test_the_demo_app_holds_exactly_lockstep_guides_set(sim_server: SimServer) -> None:
    with sim_server.client(sim_server.token()) as c:
        assert c.get("/organization").status_code == 403
        assert c.get("/servicePrincipals").status_code == 403
        assert c.get("/domains").status_code == 200
        assert c.get("/users", params={"$top": 1, "$select": "id"}).status_code == 200
        # federation writes: Domain-InternalFederation.ReadWrite.All, never Domain.ReadWrite.All
        assert c.patch("/domains/fabrikam.com", json={"isDefault": True}).status_code == 403
        fid = "00000000-0000-0000-0000-000000000000"
        assert (
            c.delete(f"/domains/fabrikam.com/federationConfiguration/{fid}").status_code == 404
        )  # past the gate


def test_a_new_role_assignment_reaches_tokens_after_the_claims_lag(sim_server: SimServer) -> None:
    sim_server.update_settings(token_claims_lag_s=600)
    app = sim_server.add_app(["User.ReadWrite.All"], [USER_ADMIN])
    claims = jwt.decode(
        sim_server.token(app["client_id"], app["client_secret"]), options={"verify_signature": False}
    )
    assert USER_ADMIN not in claims["wids"]  # assigned just now: not yet in tokens
    assert USER_ADMIN in sim_server.sim.tenant.roles_of(app["sp_id"])  # yet listed as assigned
    sim_server.update_settings(token_claims_lag_s=0)
    claims = jwt.decode(
        sim_server.token(app["client_id"], app["client_secret"]), options={"verify_signature": False}
    )
    assert USER_ADMIN in claims["wids"]
