"""The URLs of the SAML exchange: Lockstep's per-domain IdP endpoints and Microsoft's SP side.

Every federated domain has its own issuer (Microsoft matches a response's Issuer to one
domain's `issuerUri`, graph-facts §8.2) and its own endpoints under
`/saml/<organization slug>/<domain>/`. The SP side is Microsoft's login host of the
directory's cloud (a custom cloud's login base for m365sim).
"""

from __future__ import annotations

from django.conf import settings

from lockstep.directory.models import Organization
from lockstep.m365.graph.clouds import CLOUDS
from lockstep.m365.models import Cloud, Directory

SP_ENTITY_ID = "urn:federation:MicrosoftOnline"  # the Audience and the AuthnRequest Issuer
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
MFA_METHOD = "http://schemas.microsoft.com/claims/multipleauthn"
AUTHN_METHODS_ATTRIBUTE = "http://schemas.microsoft.com/claims/authnmethodsreferences"
PASSWORD_PROTECTED = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"

# Microsoft publishes the SP metadata (with the key it signs AuthnRequests with) here, per cloud.
SP_METADATA_URLS = {
    "china": "https://nexus.partner.microsoftonline-p.cn/federationmetadata/saml20/federationmetadata.xml",
}
GLOBAL_SP_METADATA = "https://nexus.microsoftonline-p.com/federationmetadata/saml20/federationmetadata.xml"


def _base() -> str:
    return str(settings.BASE_URL).rstrip("/")


def domain_path(organization: Organization, domain: str) -> str:
    return f"/saml/{organization.slug}/{domain.lower()}"


def issuer_uri(organization: Organization, domain: str) -> str:
    """The issuer a new federation of `domain` gets (stored with it: later URL changes keep it)."""
    return _base() + domain_path(organization, domain)


def metadata_url(organization: Organization, domain: str) -> str:
    return _base() + domain_path(organization, domain) + "/metadata"


def sso_url(organization: Organization, domain: str) -> str:
    """`passiveSignInUri`: Microsoft sends the browser here with the AuthnRequest."""
    return _base() + domain_path(organization, domain) + "/sso"


def slo_url(organization: Organization, domain: str) -> str:
    """`signOutUri`."""
    return _base() + domain_path(organization, domain) + "/slo"


def login_base(directory: Directory) -> str:
    if directory.cloud == Cloud.CUSTOM and directory.login_base_url:
        return directory.login_base_url.rstrip("/")
    return CLOUDS.get(str(directory.cloud), CLOUDS["global"]).login_base


def acs_url(directory: Directory) -> str:
    """Microsoft's assertion consumer service for the directory's cloud (graph-facts §8.2)."""
    return login_base(directory) + "/login.srf"


def sp_metadata_url(directory: Directory) -> str:
    if directory.cloud == Cloud.CUSTOM and directory.login_base_url:
        return directory.login_base_url.rstrip("/") + "/federationmetadata/saml20/federationmetadata.xml"
    return SP_METADATA_URLS.get(str(directory.cloud), GLOBAL_SP_METADATA)
