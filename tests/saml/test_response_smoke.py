"""The builder's output is a signed Response whose signature signxml verifies with the key's
certificate, and a changed byte breaks it."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree
from signxml import XMLVerifier
from signxml.exceptions import InvalidSignature

from lockstep.directory.models import Organization
from lockstep.saml import keys
from lockstep.saml.response import Audience, Subject, build_response


def _response(org: Organization, *, mfa: bool = False) -> tuple[bytes, str]:
    key = keys.active_key(org)
    subject = Subject("abc123", "ada@contoso.com", mfa, dt.datetime.now(dt.UTC), "_s1")
    audience = Audience("https://idp.example/saml/x/contoso.com", "https://login.example/login.srf", "_req1")
    return build_response(subject, audience, key), key.certificate_pem


@pytest.mark.django_db
def test_the_assertion_signature_verifies_and_a_changed_upn_breaks_it(org: Organization) -> None:
    xml, cert = _response(org)
    verified = XMLVerifier().verify(xml, x509_cert=cert, expect_references=1)
    assertion = verified.signed_xml
    assert assertion is not None and assertion.tag.endswith("}Assertion")
    tampered = xml.replace(b"ada@contoso.com", b"eve@contoso.com")
    with pytest.raises(InvalidSignature):
        XMLVerifier().verify(tampered, x509_cert=cert)


@pytest.mark.django_db
def test_the_signature_follows_the_assertion_issuer_and_mfa_adds_the_claim(org: Organization) -> None:
    xml, _ = _response(org, mfa=True)
    root = etree.fromstring(xml)
    assertion = root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    assert assertion is not None
    children = [child.tag.rsplit("}", 1)[1] for child in assertion]
    assert children[:3] == ["Issuer", "Signature", "Subject"]
    assert b"http://schemas.microsoft.com/claims/multipleauthn" in xml
    plain, _ = _response(org, mfa=False)
    assert b"multipleauthn" not in plain
