"""The IdP metadata of one domain: the EntityDescriptor Microsoft 365 (or an admin) reads to learn
the issuer, the signing certificates (active and next, for rotation with overlap) and the SSO and
sign-out endpoints. Built with lxml, one small function per element."""

from __future__ import annotations

from lxml import etree

from lockstep.directory.models import Organization
from lockstep.m365.models import DirectoryDomain, UserBinding
from lockstep.saml import endpoints, keys
from lockstep.saml.models import DomainFederation, KeyStatus, SigningKey

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
CONTENT_TYPE = "application/samlmetadata+xml"


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def issuer_for(organization: Organization, domain: str) -> str:
    """The stored issuer of the domain's federation, else the one a new federation would get."""
    rows = DomainFederation.objects.filter(directory__organization=organization, domain=domain.lower())
    federated = rows.filter(state="federated").order_by("pk").first()
    federation = rows.order_by("pk").first()
    chosen = federated or federation
    return chosen.issuer_uri if chosen is not None else endpoints.issuer_uri(organization, domain)


def _published_keys(organization: Organization) -> list[SigningKey]:
    """The active key, then the next one; none made here (`keys.published_keys` would create)."""
    active = SigningKey.objects.filter(organization=organization, status=KeyStatus.ACTIVE).first()
    if active is None:
        return []
    upcoming = keys.next_key(organization)
    return [active] if upcoming is None else [active, upcoming]


def known_domain(organization: Organization, domain: str) -> bool:
    """A domain of one of the organization's directories (as last read from the tenant), one with
    a federation row, or the domain of a bound account's UPN there."""
    name = domain.lower()
    return (
        DirectoryDomain.objects.filter(directory__organization=organization, name__iexact=name).exists()
        or DomainFederation.objects.filter(directory__organization=organization, domain=name).exists()
        or UserBinding.objects.filter(
            directory__organization=organization, unbound=False, remote_upn__iendswith=f"@{name}"
        ).exists()
    )


def serves(organization: Organization, domain: str) -> bool:
    """Metadata is served for a known domain once the organization has an active key (made by
    the admin's SSO page or the federation service, never by an anonymous GET)."""
    return _published_keys(organization) != [] and known_domain(organization, domain)


def key_descriptor(key: SigningKey) -> etree._Element:
    element = etree.Element(_q(MD, "KeyDescriptor"), {"use": "signing"})
    info = etree.SubElement(element, _q(DS, "KeyInfo"), nsmap={"ds": DS})
    data = etree.SubElement(info, _q(DS, "X509Data"))
    etree.SubElement(data, _q(DS, "X509Certificate")).text = keys.certificate_b64(key)
    return element


def service(tag: str, binding: str, location: str) -> etree._Element:
    return etree.Element(_q(MD, tag), {"Binding": binding, "Location": location})


def idp_descriptor(organization: Organization, domain: str) -> etree._Element:
    element = etree.Element(
        _q(MD, "IDPSSODescriptor"),
        {"protocolSupportEnumeration": SAMLP, "WantAuthnRequestsSigned": "false"},
    )
    for key in _published_keys(organization):
        element.append(key_descriptor(key))
    slo = endpoints.slo_url(organization, domain)
    element.append(service("SingleLogoutService", REDIRECT, slo))
    element.append(service("SingleLogoutService", POST, slo))
    etree.SubElement(element, _q(MD, "NameIDFormat")).text = endpoints.PERSISTENT
    sso = endpoints.sso_url(organization, domain)
    element.append(service("SingleSignOnService", REDIRECT, sso))
    element.append(service("SingleSignOnService", POST, sso))
    return element


def entity_descriptor(organization: Organization, domain: str) -> bytes:
    root = etree.Element(
        _q(MD, "EntityDescriptor"), {"entityID": issuer_for(organization, domain)}, nsmap={"md": MD}
    )
    root.append(idp_descriptor(organization, domain))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
