"""internalDomainFederation (graph-facts §7, §8.1): handler-level rules, then over HTTPS."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from m365sim import federation
from m365sim.errors import GraphError
from m365sim.graph.core import GraphRequest
from m365sim.state import Settings, Tenant

WRITE = ["Domain-InternalFederation.ReadWrite.All"]
_, CERT = federation.self_signed_certificate("idp.test")
_, NEXT_CERT = federation.self_signed_certificate("idp-next.test")


def make_sim() -> Any:
    tenant = Tenant("tid", "Contoso", "contoso.onmicrosoft.com")
    tenant.add_domain("contoso.onmicrosoft.com", isInitial=True)
    tenant.add_domain("contoso.com", isDefault=True)
    tenant.add_domain("fabrikam.com")
    tenant.add_domain("litware.com")
    tenant.add_domain("unverified.com", isVerified=False)
    return SimpleNamespace(tenant=tenant, settings=Settings())


def body(**overrides: Any) -> dict[str, Any]:
    data = {
        "displayName": "Lockstep",
        "issuerUri": "https://lockstep.test/saml/fabrikam",
        "passiveSignInUri": "https://lockstep.test/saml/sso",
        "signOutUri": "https://lockstep.test/saml/logout",
        "signingCertificate": CERT,
        "preferredAuthenticationProtocol": "saml",
        "federatedIdpMfaBehavior": "acceptIfMfaDoneByFederatedIdp",
        "isSignedAuthenticationRequestRequired": False,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not ...}


def call(
    sim: Any, method: str, domain: str, fid: str | None = None, data: Any = None, roles: Any = None
) -> Any:
    path = f"/domains/{domain}/federationConfiguration" + (f"/{fid}" if fid else "")
    req = GraphRequest(
        method=method,
        path=path,
        query={},
        headers={},
        body=data,
        claims={"roles": WRITE if roles is None else roles, "appid": "a", "tid": "tid"},
        base_url="https://127.0.0.1/v1.0",
    )
    for m, pattern, handler in federation.graph_routes(sim):
        params = _match(pattern, path)
        if m == method and params is not None:
            req.params = params
            return handler(sim, req)
    raise AssertionError("no route")


def _match(pattern: str, path: str) -> dict[str, str] | None:
    p_parts, parts = pattern.split("/"), path.split("/")
    if len(p_parts) != len(parts):
        return None
    params = {}
    for p, v in zip(p_parts, parts, strict=True):
        if p.startswith("{"):
            params[p[1:-1]] = v
        elif p.lower() != v.lower():
            return None
    return params


def error(sim: Any, *args: Any, **kwargs: Any) -> GraphError:
    with pytest.raises(GraphError) as info:
        call(sim, *args, **kwargs)
    return info.value


def test_create_federates_the_domain() -> None:
    sim = make_sim()
    resp = call(sim, "POST", "fabrikam.com", data=body())
    assert resp.status == 201
    assert resp.body["@odata.type"] == "#microsoft.graph.internalDomainFederation"
    assert resp.body["issuerUri"] == "https://lockstep.test/saml/fabrikam"
    assert resp.body["nextSigningCertificate"] is None
    assert resp.body["signingCertificateUpdateStatus"]["certificateUpdateResult"] == "Success"
    domain = sim.tenant.domains["fabrikam.com"]
    assert domain.authenticationType == "Federated"
    assert domain.federation["id"] == resp.body["id"]

    listing = call(sim, "GET", "fabrikam.com", roles=["Domain.Read.All"])
    assert [c["id"] for c in listing.body["value"]] == [resp.body["id"]]
    assert listing.body["@odata.context"].endswith(
        "$metadata#domains('fabrikam.com')/federationConfiguration"
    )
    single = call(sim, "GET", "fabrikam.com", resp.body["id"], roles=["Domain-InternalFederation.Read.All"])
    assert single.body["displayName"] == "Lockstep"


def test_managed_domain_answers_404_not_an_empty_collection() -> None:
    """graph-facts §12.3: GET federationConfiguration of a managed domain is a 404."""
    with pytest.raises(GraphError) as raised:
        call(make_sim(), "GET", "litware.com")
    assert raised.value.status == 404 and raised.value.code == "Request_ResourceNotFound"


def test_update_and_rotate_certificate() -> None:
    sim = make_sim()
    fid = call(sim, "POST", "fabrikam.com", data=body()).body["id"]
    assert call(sim, "PATCH", "fabrikam.com", fid, {"nextSigningCertificate": NEXT_CERT}).status == 204
    assert sim.tenant.domains["fabrikam.com"].federation["nextSigningCertificate"] == NEXT_CERT
    call(sim, "PATCH", "fabrikam.com", fid, {"signingCertificate": NEXT_CERT, "nextSigningCertificate": None})
    config = sim.tenant.domains["fabrikam.com"].federation
    assert config["signingCertificate"] == NEXT_CERT and config["nextSigningCertificate"] is None


def test_delete_makes_the_domain_managed_again() -> None:
    sim = make_sim()
    fid = call(sim, "POST", "fabrikam.com", data=body()).body["id"]
    assert call(sim, "DELETE", "fabrikam.com", fid).status == 204
    domain = sim.tenant.domains["fabrikam.com"]
    assert domain.authenticationType == "Managed" and domain.federation is None
    assert error(sim, "GET", "fabrikam.com", fid).status == 404
    # and it can be federated again
    assert call(sim, "POST", "fabrikam.com", data=body()).status == 201


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("contoso.onmicrosoft.com", "The initial domain 'contoso.onmicrosoft.com' cannot be federated."),
        ("unverified.com", "Domain 'unverified.com' must be verified before it can be federated."),
    ],
)
def test_domains_that_cannot_be_federated(domain: str, message: str) -> None:
    sim = make_sim()
    problem = error(sim, "POST", domain, data=body())
    assert (problem.status, problem.code, problem.message) == (400, "Request_BadRequest", message)
    assert sim.tenant.domains[domain].authenticationType == "Managed"


def test_default_domain_is_a_setting() -> None:
    sim = make_sim()  # strict by default: the default domain is refused
    problem = error(sim, "POST", "contoso.com", data=body())
    assert problem.status == 400 and "default domain" in problem.message
    assert sim.tenant.domains["contoso.com"].authenticationType == "Managed"
    sim = make_sim()
    sim.settings.federate_default_domain_allowed = True
    assert call(sim, "POST", "contoso.com", data=body()).status == 201


def test_unknown_domain_is_404() -> None:
    problem = error(make_sim(), "POST", "nowhere.com", data=body())
    assert (problem.status, problem.code) == (404, "Request_ResourceNotFound")
    assert problem.message.startswith("Resource 'nowhere.com' does not exist")


@pytest.mark.parametrize("missing", ["issuerUri", "passiveSignInUri", "signingCertificate"])
def test_required_properties(missing: str) -> None:
    sim = make_sim()
    problem = error(sim, "POST", "fabrikam.com", data=body(**{missing: ...}))
    assert problem.status == 400 and problem.code == "Request_BadRequest"
    assert problem.message == f"Property '{missing}' is required when creating a federation configuration."
    assert sim.tenant.domains["fabrikam.com"].authenticationType == "Managed"


@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("signingCertificate", "MIIE3jCCAsagAwIBAgIQQcyDaZz3MI"),  # the docs' truncated example
        ("signingCertificate", "-----BEGIN CERTIFICATE-----\n" + CERT + "\n-----END CERTIFICATE-----"),
        ("nextSigningCertificate", "bm90IGEgY2VydA=="),
        ("preferredAuthenticationProtocol", "oauth"),
        ("promptLoginBehavior", "sometimes"),
        ("federatedIdpMfaBehavior", "always"),
        ("isSignedAuthenticationRequestRequired", "yes"),
        ("passiveSignInUri", "ftp://idp/"),
        ("issuerUri", 42),
    ],
)
def test_invalid_values(prop: str, value: Any) -> None:
    problem = error(make_sim(), "POST", "fabrikam.com", data=body(**{prop: value}))
    assert (problem.status, problem.code) == (400, "Request_BadRequest")
    assert (
        problem.message
        == f"Invalid value specified for property '{prop}' of resource 'InternalDomainFederation'."
    )


def test_unknown_property() -> None:
    problem = error(make_sim(), "POST", "fabrikam.com", data=body(colour="blue"))
    assert (problem.status, problem.code) == (400, "BadRequest")
    assert "'colour' does not exist on type 'microsoft.graph.internalDomainFederation'" in problem.message


def test_issuer_uri_is_unique_across_domains() -> None:
    sim = make_sim()
    call(sim, "POST", "fabrikam.com", data=body())
    problem = error(sim, "POST", "litware.com", data=body())
    assert problem.status == 400 and problem.code == "Request_BadRequest"
    assert problem.message == "Another object with the same value for property issuerUri already exists."
    assert problem.details == [{"code": "ObjectConflict", "message": problem.message, "target": "issuerUri"}]
    assert sim.tenant.domains["litware.com"].authenticationType == "Managed"
    fid = call(sim, "POST", "litware.com", data=body(issuerUri="https://lockstep.test/saml/litware")).body[
        "id"
    ]
    assert (
        error(sim, "PATCH", "litware.com", fid, {"issuerUri": "https://lockstep.test/saml/fabrikam"}).status
        == 400
    )
    # re-sending its own issuer is fine
    assert (
        call(sim, "PATCH", "litware.com", fid, {"issuerUri": "https://lockstep.test/saml/litware"}).status
        == 204
    )


def test_second_configuration_for_a_domain_is_refused() -> None:
    sim = make_sim()
    call(sim, "POST", "fabrikam.com", data=body())
    problem = error(sim, "POST", "fabrikam.com", data=body(issuerUri="urn:other"))
    assert problem.message == "Domain 'fabrikam.com' already has a federation configuration."


def test_signing_certificate_cannot_be_removed() -> None:
    sim = make_sim()
    fid = call(sim, "POST", "fabrikam.com", data=body()).body["id"]
    problem = error(sim, "PATCH", "fabrikam.com", fid, {"signingCertificate": None})
    assert (
        problem.message == "Property 'signingCertificate' cannot be removed from a federation configuration."
    )


def test_permissions() -> None:
    sim = make_sim()
    for roles in ([], ["Domain.Read.All"], ["User.ReadWrite.All"], ["Directory.ReadWrite.All"]):
        problem = error(sim, "POST", "fabrikam.com", data=body(), roles=roles)
        assert (problem.status, problem.code) == (403, "Authorization_RequestDenied")
    assert call(sim, "POST", "fabrikam.com", data=body(), roles=["Domain.ReadWrite.All"]).status == 201
    assert error(sim, "GET", "fabrikam.com", roles=["User.Read.All"]).status == 403


def test_godaddy_shape() -> None:
    config = federation.godaddy_federation("example.com")
    assert config["displayName"] == "GoDaddy"
    assert config["passiveSignInUri"].startswith("https://sso.godaddy.com/")
    assert config["metadataExchangeUri"].startswith("https://sso.secureserver.net/")
    federation.load_certificate(config["signingCertificate"])
    assert set(config) == set(federation.new_configuration({}))


def test_served_entity_matches_microsofts_model(graph: Any) -> None:
    """Oracle: the InternalDomainFederation JSON Schema generated from Microsoft's graph-types."""
    import gzip
    import json
    from pathlib import Path

    import jsonschema

    with gzip.open(Path(__file__).with_name("schemas") / "graph-v1.json.gz") as packed:
        schema = json.loads(packed.read())
    validator = jsonschema.Draft7Validator(
        {"$ref": "#/definitions/InternalDomainFederation", "definitions": schema["definitions"]}
    )
    created = graph.post(
        "/domains/fabrikam.com/federationConfiguration",
        json=body(nextSigningCertificate=NEXT_CERT, passwordResetUri="https://lockstep.test/reset"),
    ).json()
    listed = graph.get("/domains/fabrikam.com/federationConfiguration").json()["value"][0]
    for entity in (created, listed):
        validator.validate({k: v for k, v in entity.items() if "@" not in k})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**listed, "issuerUrl": "typo"})


# ----- over HTTPS through the simulator ------------------------------------------------------------


def err(r: Any) -> dict[str, Any]:
    """The error object after checking the §6 envelope."""
    e = r.json()["error"]
    assert e["innerError"]["request-id"] == r.headers["request-id"]
    assert e["innerError"]["client-request-id"] == r.headers["client-request-id"]
    return dict(e)


def test_http_federate_read_and_defederate(graph: Any, sim_server: Any) -> None:
    r = graph.post("/domains/fabrikam.com/federationConfiguration", json=body())
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["@odata.type"] == "#microsoft.graph.internalDomainFederation"
    assert created["@odata.context"].endswith(
        "/$metadata#domains('fabrikam.com')/federationConfiguration/$entity"
    )
    assert graph.get("/domains/fabrikam.com").json()["authenticationType"] == "Federated"
    listed = graph.get("/domains/fabrikam.com/federationConfiguration").json()["value"]
    assert [c["id"] for c in listed] == [created["id"]]
    fid = created["id"]
    assert (
        graph.patch(
            f"/domains/fabrikam.com/federationConfiguration/{fid}", json={"displayName": "LS"}
        ).status_code
        == 204
    )
    assert graph.get(f"/domains/fabrikam.com/federationConfiguration/{fid}").json()["displayName"] == "LS"
    # constraints, with the §6 envelope
    r = graph.post("/domains/contoso.onmicrosoft.com/federationConfiguration", json=body(issuerUri="urn:x"))
    assert r.status_code == 400
    assert err(r)["message"] == "The initial domain 'contoso.onmicrosoft.com' cannot be federated."
    r = graph.post("/domains/contoso.com/federationConfiguration", json=body(issuerUri="urn:other"))
    assert r.status_code == 400 and "default domain" in err(r)["message"]  # strict default (§8.1)
    sim_server.sim.tenant.add_domain("tailspin.example")  # verified, managed, not the default
    r = graph.post("/domains/tailspin.example/federationConfiguration", json=body())
    assert r.status_code == 400 and err(r)["details"][0]["target"] == "issuerUri"
    assert graph.delete(f"/domains/fabrikam.com/federationConfiguration/{fid}").status_code == 204
    assert graph.get("/domains/fabrikam.com").json()["authenticationType"] == "Managed"
    r = graph.get(f"/domains/fabrikam.com/federationConfiguration/{fid}")
    assert r.status_code == 404 and err(r)["code"] == "Request_ResourceNotFound"


def test_http_permission_denied(sim_server: Any) -> None:
    app = sim_server.add_app(["Domain.Read.All"])
    with sim_server.client(sim_server.token(app["client_id"], app["client_secret"])) as client:
        r = client.post("/domains/fabrikam.com/federationConfiguration", json=body())
        assert r.status_code == 403 and err(r)["code"] == "Authorization_RequestDenied"
        assert client.get("/domains/fabrikam.com/federationConfiguration").status_code == 404  # managed


def test_http_defederate_through_domain_patch(graph: Any) -> None:
    assert graph.post("/domains/fabrikam.com/federationConfiguration", json=body()).status_code == 201
    assert graph.patch("/domains/fabrikam.com", json={"authenticationType": "Managed"}).status_code == 204
    assert graph.get("/domains/fabrikam.com/federationConfiguration").status_code == 404


def test_http_godaddy_seed(sim_server: Any) -> None:
    sim_server.reset("godaddy")
    with sim_server.client(sim_server.token()) as client:
        domains = {d["id"]: d for d in client.get("/domains").json()["value"]}
        federated = [d for d in domains.values() if d["authenticationType"] == "Federated"]
        assert len(federated) == 1
        configs = client.get(f"/domains/{federated[0]['id']}/federationConfiguration").json()["value"]
        assert len(configs) == 1
        config = configs[0]
        assert config["passiveSignInUri"].split("/")[2].endswith(("godaddy.com", "secureserver.net"))
        federation.load_certificate(config["signingCertificate"])
        assert set(federation.new_configuration({})) <= set(config)


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_update_and_delete_take_exactly_the_documented_write_permissions(method: str) -> None:
    """Graph v1.0: Domain-InternalFederation.ReadWrite.All, Domain.ReadWrite.All - nothing broader."""
    sim = make_sim()
    fid = call(sim, "POST", "fabrikam.com", data=body()).body["id"]
    data = {"nextSigningCertificate": NEXT_CERT} if method == "PATCH" else None
    for roles in (
        ["Domain.Read.All"],
        ["Domain-InternalFederation.Read.All"],
        ["Directory.ReadWrite.All"],
        ["User.ReadWrite.All"],
    ):
        problem = error(sim, method, "fabrikam.com", fid, data, roles=roles)
        assert (problem.status, problem.code) == (403, "Authorization_RequestDenied")
    assert sim.tenant.domains["fabrikam.com"].authenticationType == "Federated"
    for allowed in ("Domain-InternalFederation.ReadWrite.All", "Domain.ReadWrite.All"):
        if method == "DELETE" and allowed == "Domain.ReadWrite.All":
            fid = call(sim, "POST", "litware.com", data=body(issuerUri="urn:litware")).body["id"]
            assert call(sim, method, "litware.com", fid, roles=[allowed]).status == 204
            continue
        assert call(sim, method, "fabrikam.com", fid, data, roles=[allowed]).status == 204


def test_sign_ins_see_a_federation_change_only_after_the_propagation_time() -> None:
    """§12.3: a change can take up to two hours to reach every sign-in; Graph reads show it at once."""
    from m365sim.saml_state import sp_of

    sim = make_sim()
    sp = sp_of(sim)
    sp.settings.federation_propagation_seconds = 3600
    domain = sim.tenant.domains["fabrikam.com"]
    fid = call(sim, "POST", "fabrikam.com", data=body()).body["id"]
    assert call(sim, "GET", "fabrikam.com").status == 200  # Graph: federated
    assert sp.configuration_for_sign_in("fabrikam.com", domain.federation) is None  # sign-ins: not yet
    call(sim, "PATCH", "fabrikam.com", fid, {"signingCertificate": NEXT_CERT})

    def age(seconds: float) -> None:
        history = sp.federation_history["fabrikam.com"]
        sp.federation_history["fabrikam.com"] = [(t - seconds if t else t, c) for t, c in history]

    age(1800)
    assert sp.configuration_for_sign_in("fabrikam.com", domain.federation) is None
    age(1801)  # the creation has propagated, the certificate change (made at once after) too
    seen = sp.configuration_for_sign_in("fabrikam.com", domain.federation)
    assert seen is not None and seen["signingCertificate"] == NEXT_CERT
    call(sim, "DELETE", "fabrikam.com", fid)
    still = sp.configuration_for_sign_in("fabrikam.com", domain.federation)
    assert still is not None and domain.federation is None  # sign-ins still federated for a while
    sp.settings.federation_propagation_seconds = 0
    assert sp.configuration_for_sign_in("fabrikam.com", domain.federation) is None
