"""Microsoft's SP certificates come from its SP metadata over HTTPS, and are cached."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from lockstep.m365.models import Directory
from lockstep.saml.sp_certificates import certificates_in, sp_certificates


@pytest.mark.django_db
def test_the_sp_certificate_is_read_from_the_metadata_and_cached(org: Any, sim: Any) -> None:
    cache.clear()
    directory = Directory.objects.create(
        organization=org,
        name="D",
        tenant_id="t",
        client_id="c",
        credential_kind="secret",
        cloud="custom",
        login_base_url=sim.login_base_url,
    )
    found = sp_certificates(directory)
    expected = OneLogin_Saml2_Utils.format_cert(sim.sim.saml.key_and_cert()[1])
    assert [c.replace("\n", "") for c in found] == [expected.replace("\n", "")]
    sim.clear_request_log()
    assert sp_certificates(directory) == found
    assert not [r for r in sim.request_log() if "federationmetadata" in r["path"]]  # from the cache


def test_only_the_microsoft_sp_entity_counts() -> None:
    other = (
        b'<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://evil.example">'
        b'<SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        b'<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data>'
        b"<X509Certificate>QUJD</X509Certificate></X509Data></KeyInfo></KeyDescriptor>"
        b"</SPSSODescriptor></EntityDescriptor>"
    )
    assert certificates_in(other) == []
    assert (
        len(certificates_in(other.replace(b"https://evil.example", b"urn:federation:MicrosoftOnline"))) == 1
    )
