"""The test sign-in's independent check (libxmlsec1, not signxml) can fail: a changed byte, a
certificate that did not sign, or a wrong issuer, NameID, audience or recipient are named."""

from __future__ import annotations

import datetime as dt

import pytest

from lockstep.directory.models import Organization
from lockstep.saml import keys
from lockstep.saml.response import Audience, Subject, build_response
from lockstep.saml.services.signature_check import assertion_problems

ISSUER = "https://idp.example/saml/contoso/fabrikam.com"
ACS = "https://login.example/login.srf"


def _xml(org: Organization, *, audience: Audience | None = None) -> bytes:
    subject = Subject("imm-ada-1", "ada@fabrikam.com", False, dt.datetime.now(dt.UTC), "_s1")
    return build_response(subject, audience or Audience(ISSUER, ACS, None), keys.active_key(org))


def _problems(xml: bytes, pem: str, **overrides: str) -> list[str]:
    expected = {"issuer": ISSUER, "name_id": "imm-ada-1", "upn": "ada@fabrikam.com", "acs_url": ACS}
    return assertion_problems(xml, pem, **{**expected, **overrides})


@pytest.mark.django_db
def test_a_good_assertion_has_no_problem_and_each_defect_is_named(
    org: Organization, other_org: Organization
) -> None:
    xml, pem = _xml(org), keys.active_key(org).certificate_pem
    assert _problems(xml, pem) == []
    tampered = xml.replace(b"ada@fabrikam.com", b"eve@fabrikam.com")
    assert "The assertion's signature does not verify with the signing certificate." in _problems(
        tampered, pem, upn="eve@fabrikam.com"
    )
    stranger = keys.active_key(other_org).certificate_pem
    assert _problems(xml, stranger) == [
        "The assertion's signature does not verify with the signing certificate."
    ]
    assert _problems(xml, pem, issuer="urn:other") == [
        "The assertion's Issuer is not the domain's issuer URI."
    ]
    assert _problems(xml, pem, name_id="imm-bob") == [
        "The assertion's NameID is not the user's immutable id."
    ]
    assert _problems(xml, pem, upn="bob@fabrikam.com") == ["The assertion's IDPEmail is not the user's UPN."]
    assert len(_problems(xml, pem, acs_url="https://elsewhere.example/login.srf")) == 1
    wrong_audience = _xml(org, audience=Audience(ISSUER, ACS, None, audience="urn:someone-else"))
    assert _problems(wrong_audience, pem) == [
        "The assertion's Audience is not urn:federation:MicrosoftOnline."
    ]
