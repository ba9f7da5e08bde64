"""Lockstep's signed Responses pass three validators that share none of its signing code (the
`xmlsec1` command, python3-saml in strict mode, the SAML 2.0 schemas), and each validator is
shown refusing what it must refuse, so a pass means something."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from lockstep.directory.actors import Actor
from lockstep.directory.models import Organization
from lockstep.saml import keys
from lockstep.saml.endpoints import AUTHN_METHODS_ATTRIBUTE, MFA_METHOD
from lockstep.saml.models import SigningKey
from lockstep.saml.response import Audience, Subject, build_response
from lockstep.testing.saml import (
    METADATA_SCHEMA,
    NS,
    Verdict,
    assert_valid_everywhere,
    onelogin_check,
    schema_check,
    xmlsec1_check,
)

ISSUER = "https://lockstep.example/saml/contoso/contoso.com"
ACS = "https://login.sim.example:8443/login.srf"
REQUEST_ID = "_a1b2c3d4e5f60718293a4b5c6d7e8f90"
IMMUTABLE_ID = "bG9ja3N0ZXAtdXNlci0x"
UPN = "ada@contoso.com"


def _build(
    key: SigningKey,
    *,
    mfa: bool = False,
    in_response_to: str | None = REQUEST_ID,
    acs: str = ACS,
    audience: str | None = None,
    now: dt.datetime | None = None,
) -> bytes:
    moment = now or dt.datetime.now(dt.UTC)
    subject = Subject(IMMUTABLE_ID, UPN, mfa, moment, "_session1")
    target = Audience(ISSUER, acs, in_response_to)
    if audience is not None:
        target = Audience(ISSUER, acs, in_response_to, audience=audience)
    return build_response(subject, target, key, now=moment)


def _all(xml: bytes, cert: str, *, in_response_to: str | None = REQUEST_ID) -> dict[str, Verdict]:
    verdicts = [
        xmlsec1_check(xml, cert),
        onelogin_check(xml, certificate_pem=cert, issuer=ISSUER, acs_url=ACS, in_response_to=in_response_to),
        schema_check(xml),
    ]
    return {verdict.validator: verdict for verdict in verdicts}


def _accepted_by(verdicts: dict[str, Verdict]) -> set[str]:
    return {name for name, verdict in verdicts.items() if verdict.ok}


@pytest.fixture
def key(org: Organization) -> SigningKey:
    return keys.active_key(org)


@pytest.mark.django_db
@pytest.mark.parametrize("mfa", [False, True])
def test_an_sp_initiated_response_passes_all_three_with_the_claims_microsoft_reads(
    key: SigningKey, mfa: bool
) -> None:
    xml = _build(key, mfa=mfa)
    verdict = assert_valid_everywhere(
        xml, certificate_pem=key.certificate_pem, issuer=ISSUER, acs_url=ACS, in_response_to=REQUEST_ID
    )
    facts = verdict.facts
    assert facts["name_id"] == IMMUTABLE_ID
    assert facts["name_id_format"] == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    assert facts["attributes"]["IDPEmail"] == [UPN]
    assert facts["issuers"] == [ISSUER]
    assert (facts["attributes"].get(AUTHN_METHODS_ATTRIBUTE) == [MFA_METHOD]) is mfa


@pytest.mark.django_db
def test_an_idp_initiated_response_without_in_response_to_passes_all_three(key: SigningKey) -> None:
    xml = _build(key, in_response_to=None)
    assert b"InResponseTo" not in xml
    assert_valid_everywhere(
        xml, certificate_pem=key.certificate_pem, issuer=ISSUER, acs_url=ACS, in_response_to=None
    )


@pytest.mark.django_db
def test_a_changed_byte_fails_both_signature_checks_while_the_schema_still_holds(key: SigningKey) -> None:
    xml = _build(key)
    assert _accepted_by(_all(xml, key.certificate_pem)) == {"xmlsec1", "python3-saml", "xsd"}
    tampered = xml.replace(b"ada@contoso.com", b"eve@contoso.com")
    assert tampered != xml
    verdicts = _all(tampered, key.certificate_pem)
    assert _accepted_by(verdicts) == {"xsd"}
    assert "failed to verify" in verdicts["xmlsec1"].reason
    assert "Signature validation failed" in verdicts["python3-saml"].reason


@pytest.mark.django_db
def test_another_organizations_certificate_fails_both_signature_checks(
    key: SigningKey, other_org: Organization
) -> None:
    """xmlsec1 must use the given certificate, never the one the document carries itself."""
    xml = _build(key)
    foreign = keys.active_key(other_org).certificate_pem
    assert _accepted_by(_all(xml, foreign)) == {"xsd"}


@pytest.mark.django_db
def test_an_expired_response_is_refused_by_python3_saml_though_its_signature_holds(key: SigningKey) -> None:
    xml = _build(key, now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10))
    verdicts = _all(xml, key.certificate_pem)
    assert _accepted_by(verdicts) == {"xmlsec1", "xsd"}
    assert (
        "expired" in verdicts["python3-saml"].reason.lower()
        or "NotOnOrAfter" in verdicts["python3-saml"].reason
    )


@pytest.mark.django_db
def test_a_wrong_audience_is_refused_by_python3_saml(key: SigningKey) -> None:
    verdicts = _all(_build(key, audience="urn:federation:SomeoneElse"), key.certificate_pem)
    assert _accepted_by(verdicts) == {"xmlsec1", "xsd"}
    assert "audience" in verdicts["python3-saml"].reason.lower()


@pytest.mark.django_db
def test_a_response_for_another_acs_or_request_is_refused_by_python3_saml(key: SigningKey) -> None:
    elsewhere = _build(key, acs="https://evil.example/login.srf")
    assert not onelogin_check(
        elsewhere, certificate_pem=key.certificate_pem, issuer=ISSUER, acs_url=ACS, in_response_to=REQUEST_ID
    )
    other_request = onelogin_check(
        _build(key), certificate_pem=key.certificate_pem, issuer=ISSUER, acs_url=ACS, in_response_to="_other"
    )
    assert not other_request and "InResponseTo" in other_request.reason


@pytest.mark.django_db
def test_an_attribute_the_schema_does_not_know_is_refused_by_the_xsd_alone_of_the_structure_checks(
    key: SigningKey,
) -> None:
    """The Response element is not signed: the signature still verifies, the schema says no."""
    root = etree.fromstring(_build(key))
    root.set("Unexpected", "1")
    verdicts = _all(etree.tostring(root), key.certificate_pem)
    assert not verdicts["xsd"] and "Unexpected" in verdicts["xsd"].reason
    assert verdicts["xmlsec1"]
    assert not verdicts["python3-saml"]  # it validates the schema too


@pytest.mark.django_db
def test_an_unsigned_assertion_fails_both_signature_checks(key: SigningKey) -> None:
    root = etree.fromstring(_build(key))
    signature = root.find("saml:Assertion/ds:Signature", NS)
    assert signature is not None
    signature.getparent().remove(signature)
    assert _accepted_by(_all(etree.tostring(root), key.certificate_pem)) == {"xsd"}


@pytest.mark.django_db
def test_a_wrapped_second_assertion_is_refused_though_the_original_signature_verifies(
    key: SigningKey,
) -> None:
    """Signature wrapping: an unsigned copy with another subject next to the signed assertion."""
    root = etree.fromstring(_build(key))
    signed = root.find("saml:Assertion", NS)
    assert signed is not None
    forged = etree.fromstring(etree.tostring(signed))
    forged.remove(forged.find("ds:Signature", NS))
    forged.set("ID", "_forged")
    name_id = forged.find("saml:Subject/saml:NameID", NS)
    assert name_id is not None
    name_id.text = "someone-else"
    root.insert(list(root).index(signed), forged)
    verdicts = _all(etree.tostring(root), key.certificate_pem)
    assert not verdicts["xmlsec1"] and "one assertion" in verdicts["xmlsec1"].reason
    assert not verdicts["python3-saml"]


@pytest.mark.django_db
def test_the_idp_metadata_fits_the_metadata_schema_and_python3_saml_reads_both_certificates(
    org: Organization, actor: Actor
) -> None:
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

    from lockstep.saml import endpoints, metadata

    active = keys.active_key(org)
    upcoming = keys.create_next_key(org, actor=actor)
    xml = metadata.entity_descriptor(org, "contoso.com")
    assert schema_check(xml, METADATA_SCHEMA), schema_check(xml, METADATA_SCHEMA).reason
    idp = OneLogin_Saml2_IdPMetadataParser.parse(xml.decode())["idp"]
    assert idp["entityId"] == endpoints.issuer_uri(org, "contoso.com")
    assert idp["singleSignOnService"]["url"] == endpoints.sso_url(org, "contoso.com")
    assert idp["singleLogoutService"]["url"] == endpoints.slo_url(org, "contoso.com")
    assert idp["x509certMulti"]["signing"] == [keys.certificate_b64(active), keys.certificate_b64(upcoming)]
    broken = xml.replace(b"md:IDPSSODescriptor ", b"md:IDPSSODescriptor Unexpected='1' ", 1)
    assert not schema_check(broken, METADATA_SCHEMA)
