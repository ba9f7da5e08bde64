"""internalDomainFederation CRUD against m365sim."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lockstep.m365.graph import errors as e
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.payloads import InternalDomainFederation


@pytest.fixture
def graph(broad_graph: GraphClient) -> GraphClient:
    """Federation writes need Domain-InternalFederation.ReadWrite.All, outside the guide's set."""
    return broad_graph


def signing_certificate() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.lockstep.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def config(issuer: str) -> InternalDomainFederation:
    return {
        "displayName": "Lockstep",
        "issuerUri": issuer,
        "passiveSignInUri": "https://lockstep.test/saml/sso",
        "signOutUri": "https://lockstep.test/saml/logout",
        "signingCertificate": signing_certificate(),
        "preferredAuthenticationProtocol": "saml",
        "federatedIdpMfaBehavior": "acceptIfMfaDoneByFederatedIdp",
    }


def test_federate_update_and_defederate(graph: GraphClient) -> None:
    created = graph.create_federation_configuration("fabrikam.com", config("https://lockstep.test/fabrikam"))
    fid = created["id"]
    assert graph.get_domain("fabrikam.com")["authenticationType"] == "Federated"
    [listed] = graph.list_federation_configurations("fabrikam.com")
    assert listed["issuerUri"] == "https://lockstep.test/fabrikam"

    graph.update_federation_configuration("fabrikam.com", fid, {"displayName": "Lockstep IdP"})
    assert graph.list_federation_configurations("fabrikam.com")[0]["displayName"] == "Lockstep IdP"

    graph.delete_federation_configuration("fabrikam.com", fid)
    assert graph.get_domain("fabrikam.com")["authenticationType"] == "Managed"
    assert graph.list_federation_configurations("fabrikam.com") == []


def test_initial_domain_cannot_be_federated(graph: GraphClient) -> None:
    with pytest.raises(e.BadRequest) as info:
        graph.create_federation_configuration("contoso.onmicrosoft.com", config("https://lockstep.test/x"))
    assert "initial domain" in info.value.message
    assert info.value.message in info.value.plain_words


def test_federated_domain_rules_are_classified(graph: GraphClient) -> None:
    from lockstep.m365.graph import odata

    from .test_sim_users import new_user, unique

    existing = next(graph.list_users(filter=odata.eq("userPrincipalName", "grady.archie@fabrikam.com")), None)
    fid = graph.create_federation_configuration("fabrikam.com", config("https://lockstep.test/fab2"))["id"]
    try:
        with pytest.raises(e.FederatedDomainRestriction) as info:
            graph.create_user(new_user(unique("fabrikam.com")))
        assert "SourceAnchor" in info.value.message
        created = graph.create_user(new_user(unique("fabrikam.com"), onPremisesImmutableId="abc123XYZ"))
        assert created["id"]
        target = existing["id"] if existing else created["id"]
        with pytest.raises(e.FederatedDomainRestriction):
            graph.update_user(target, {"passwordProfile": {"password": "Another-Long-Pass-9"}})
    finally:
        graph.delete_federation_configuration("fabrikam.com", fid)
