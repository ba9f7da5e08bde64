"""`internalDomainFederation`: `/domains/{id}/federationConfiguration` (graph-facts §7, §8.1).

* `POST /domains/{id}/federationConfiguration` -> 201, federates the domain
  (`authenticationType` becomes `Federated`);
* `GET /domains/{id}/federationConfiguration` -> collection of the one item; 404 for a managed
  domain (graph-facts §12.3);
* `GET|PATCH|DELETE /domains/{id}/federationConfiguration/{fid}`; PATCH -> 204; DELETE -> 204
  and the domain is `Managed` again.

Constraints: the initial `*.onmicrosoft.com` domain and unverified domains cannot be federated;
the default domain only while `settings.federate_default_domain_allowed` (UNCERTAIN, on by
default); `issuerUri`, `passiveSignInUri` and `signingCertificate` are required; certificates
must be base64 DER X.509 (no PEM header); `issuerUri` is unique among the tenant's federated
domains; one configuration per domain; enum values are checked. The configuration is stored
as a Graph-shaped dict in `Domain.federation`. Messages marked UNCERTAIN below are ours: the
status codes and error codes follow §6, the exact texts are not documented by Microsoft.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from m365sim.errors import GraphError, bad_request, conflict, denied, not_found
from m365sim.graph.core import GraphRequest, GraphResponse, json_response, no_content
from m365sim.saml_state import sp_of
from m365sim.state import iso, new_id

if TYPE_CHECKING:
    from m365sim.simulator import Simulator
    from m365sim.state import Domain, Tenant

ODATA_TYPE = "#microsoft.graph.internalDomainFederation"
WRITE_PERMISSIONS = frozenset({"Domain-InternalFederation.ReadWrite.All", "Domain.ReadWrite.All"})
# GET .../federationConfiguration and .../federationConfiguration/{id}: the v1.0 pages list
# Domain.Read.All, Domain.ReadWrite.All (list) and Domain-InternalFederation.Read.All,
# Domain-InternalFederation.ReadWrite.All, Domain.Read.All, Domain.ReadWrite.All (get; the beta
# list page agrees); never Directory.Read.All
READ_PERMISSIONS = WRITE_PERMISSIONS | {"Domain-InternalFederation.Read.All", "Domain.Read.All"}
ENUMS: dict[str, frozenset[str]] = {
    "preferredAuthenticationProtocol": frozenset({"wsFed", "saml", "unknownFutureValue"}),
    "promptLoginBehavior": frozenset(
        {"translateToFreshPasswordAuthentication", "nativeSupport", "disabled", "unknownFutureValue"}
    ),
    "federatedIdpMfaBehavior": frozenset(
        {
            "acceptIfMfaDoneByFederatedIdp",
            "enforceMfaByFederatedIdp",
            "rejectMfaByFederatedIdp",
            "unknownFutureValue",
        }
    ),
}
STRINGS = (
    "displayName",
    "issuerUri",
    "metadataExchangeUri",
    "passiveSignInUri",
    "activeSignInUri",
    "signOutUri",
    "passwordResetUri",
)
CERTIFICATES = ("signingCertificate", "nextSigningCertificate")
WRITABLE = frozenset({*STRINGS, *CERTIFICATES, *ENUMS, "isSignedAuthenticationRequestRequired"})
READ_ONLY = frozenset({"id", "signingCertificateUpdateStatus", "@odata.type"})
REQUIRED = ("issuerUri", "passiveSignInUri", "signingCertificate")
URIS = ("passiveSignInUri", "activeSignInUri", "signOutUri", "metadataExchangeUri", "passwordResetUri")

# UNCERTAIN messages (documented in README.md)
MSG_INITIAL = "The initial domain '{domain}' cannot be federated."
MSG_UNVERIFIED = "Domain '{domain}' must be verified before it can be federated."
MSG_DEFAULT = "Federating the default domain '{domain}' is not allowed. Set another default domain first."
MSG_ALREADY = "Domain '{domain}' already has a federation configuration."
MSG_REQUIRED = "Property '{prop}' is required when creating a federation configuration."
MSG_INVALID = "Invalid value specified for property '{prop}' of resource 'InternalDomainFederation'."
MSG_CLEAR_CERT = "Property 'signingCertificate' cannot be removed from a federation configuration."


def _unknown_property(prop: str) -> GraphError:
    return GraphError(
        400,
        "BadRequest",
        f"The property '{prop}' does not exist on type 'microsoft.graph.internalDomainFederation'. "
        "Make sure to only use property names that are defined by the type or mark the type as open type.",
    )


def _require(req: GraphRequest, allowed: frozenset[str] | set[str]) -> None:
    if not req.roles & allowed:
        raise denied()


def load_certificate(value: str) -> x509.Certificate:
    """Parse a `signingCertificate` value (base64 DER, whitespace tolerated). ValueError if bad."""
    if not isinstance(value, str) or "-----BEGIN" in value:
        raise ValueError("not base64 DER")
    try:
        der = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as problem:
        raise ValueError("not base64") from problem
    return x509.load_der_x509_certificate(der)


def _validate(body: Any, *, creating: bool) -> dict[str, Any]:
    """Checked, writable properties of a POST/PATCH body."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    values: dict[str, Any] = {}
    for prop, value in body.items():
        if prop in READ_ONLY:
            continue
        if prop not in WRITABLE:
            raise _unknown_property(prop)
        if value is None:
            if prop in REQUIRED:
                raise bad_request(
                    MSG_CLEAR_CERT if prop == "signingCertificate" else MSG_INVALID.format(prop=prop)
                )
            values[prop] = None
            continue
        if prop == "isSignedAuthenticationRequestRequired":
            if not isinstance(value, bool):
                raise bad_request(MSG_INVALID.format(prop=prop))
        elif prop in ENUMS:
            if value not in ENUMS[prop]:
                raise bad_request(MSG_INVALID.format(prop=prop))
        elif not isinstance(value, str) or (prop != "displayName" and not value.strip()):
            raise bad_request(MSG_INVALID.format(prop=prop))
        elif prop in CERTIFICATES:
            try:
                load_certificate(value)
            except ValueError:
                raise bad_request(MSG_INVALID.format(prop=prop)) from None
            value = "".join(value.split())
        elif prop in URIS and not value.lower().startswith(("https://", "http://")):
            raise bad_request(MSG_INVALID.format(prop=prop))
        values[prop] = value
    if creating:
        for prop in REQUIRED:
            if not values.get(prop):
                raise bad_request(MSG_REQUIRED.format(prop=prop))
    return values


def _check_issuer_unique(tenant: Tenant, issuer: str, own_domain: str) -> None:
    for name, domain in tenant.domains.items():
        if name != own_domain and domain.federation and domain.federation.get("issuerUri") == issuer:
            raise conflict("issuerUri")


def _domain(sim: Simulator, req: GraphRequest) -> Domain:
    name = req.params["id"]
    domain = sim.tenant.domains.get(name.lower())
    if domain is None:
        raise not_found(name)
    return domain


def _config(domain: Domain, fid: str) -> dict[str, Any]:
    if not domain.federation or domain.federation["id"].lower() != fid.lower():
        raise not_found(fid)
    return domain.federation


_ALL_PROPERTIES = (
    "id",
    *STRINGS,
    *CERTIFICATES,
    *ENUMS,
    "isSignedAuthenticationRequestRequired",
    "signingCertificateUpdateStatus",
)


def represent(config: dict[str, Any]) -> dict[str, Any]:
    """The Graph entity: every property (null when a stored config lacks it, e.g. seeds)."""
    return {"@odata.type": ODATA_TYPE, **dict.fromkeys(_ALL_PROPERTIES), **config}


def new_configuration(values: dict[str, Any]) -> dict[str, Any]:
    """A full configuration dict (every Graph property) from checked values."""
    config: dict[str, Any] = {
        "id": new_id(),
        "displayName": None,
        "issuerUri": None,
        "metadataExchangeUri": None,
        "signingCertificate": None,
        "passiveSignInUri": None,
        "preferredAuthenticationProtocol": None,
        "activeSignInUri": None,
        "signOutUri": None,
        "passwordResetUri": None,
        "promptLoginBehavior": None,
        "isSignedAuthenticationRequestRequired": False,
        "nextSigningCertificate": None,
        "federatedIdpMfaBehavior": None,
        "signingCertificateUpdateStatus": {"certificateUpdateResult": "Success", "lastRunDateTime": iso()},
    }
    config.update(values)
    return config


def federate(sim: Simulator, domain: Domain, values: dict[str, Any]) -> dict[str, Any]:
    """Apply the §8.1 constraints and federate `domain` (used by the POST route and seeds)."""
    tenant = sim.tenant
    if domain.isInitial or domain.id.lower() == tenant.initial_domain:
        raise bad_request(MSG_INITIAL.format(domain=domain.id))
    if not domain.isVerified:
        raise bad_request(MSG_UNVERIFIED.format(domain=domain.id))
    if domain.isDefault and not sim.settings.federate_default_domain_allowed:
        raise bad_request(MSG_DEFAULT.format(domain=domain.id))
    if domain.federation:
        raise bad_request(MSG_ALREADY.format(domain=domain.id))
    _check_issuer_unique(tenant, values["issuerUri"], domain.id.lower())
    domain.federation = new_configuration(values)
    domain.authenticationType = "Federated"
    sp_of(sim).note_federation(domain.id, None, domain.federation)
    return domain.federation


def defederate(domain: Domain) -> None:
    """Remove the configuration: the domain is Managed again (also for PATCH /domains Managed)."""
    domain.federation = None
    domain.authenticationType = "Managed"


def _context(req: GraphRequest, domain: Domain, entity: bool) -> str:
    suffix = "/$entity" if entity else ""
    return f"{req.base_url}/$metadata#domains('{domain.id}')/federationConfiguration{suffix}"


def create_configuration(sim: Simulator, req: GraphRequest) -> GraphResponse:
    _require(req, WRITE_PERMISSIONS)
    domain = _domain(sim, req)
    config = federate(sim, domain, _validate(req.body, creating=True))
    return json_response({"@odata.context": _context(req, domain, True), **represent(config)}, 201)


def list_configurations(sim: Simulator, req: GraphRequest) -> GraphResponse:
    _require(req, READ_PERMISSIONS)
    domain = _domain(sim, req)
    if not domain.federation:  # a managed domain: 404, not an empty collection (graph-facts §12.3)
        raise not_found(f"{domain.id}/federationConfiguration")
    value = [represent(domain.federation)]
    return json_response({"@odata.context": _context(req, domain, False), "value": value})


def get_configuration(sim: Simulator, req: GraphRequest) -> GraphResponse:
    _require(req, READ_PERMISSIONS)
    domain = _domain(sim, req)
    config = _config(domain, req.params["fid"])
    return json_response({"@odata.context": _context(req, domain, True), **represent(config)})


def update_configuration(sim: Simulator, req: GraphRequest) -> GraphResponse:
    _require(req, WRITE_PERMISSIONS)
    domain = _domain(sim, req)
    config = _config(domain, req.params["fid"])
    values = _validate(req.body, creating=False)
    if "issuerUri" in values:
        _check_issuer_unique(sim.tenant, values["issuerUri"], domain.id.lower())
    before = dict(config)
    config.update(values)
    sp_of(sim).note_federation(domain.id, before, config)
    return no_content()


def delete_configuration(sim: Simulator, req: GraphRequest) -> GraphResponse:
    _require(req, WRITE_PERMISSIONS)
    domain = _domain(sim, req)
    before = _config(domain, req.params["fid"])
    defederate(domain)
    sp_of(sim).note_federation(domain.id, before, None)
    return no_content()


def graph_routes(sim: Simulator) -> list[tuple[str, str, Any]]:
    base = "/domains/{id}/federationConfiguration"
    return [
        ("POST", base, create_configuration),
        ("GET", base, list_configurations),
        ("GET", base + "/{fid}", get_configuration),
        ("PATCH", base + "/{fid}", update_configuration),
        ("DELETE", base + "/{fid}", delete_configuration),
    ]


# ----- certificates and the GoDaddy-like seed -----------------------------------------------------


def self_signed_certificate(common_name: str, key: Any = None, days: int = 3650) -> tuple[Any, str]:
    """(private key, base64 DER certificate) - what `signingCertificate` holds. EC P-256 by default."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return key, base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def godaddy_federation(domain: str) -> dict[str, Any]:
    """A federation configuration shaped like a GoDaddy-operated tenant's (§7.2).

    UNCERTAIN: GoDaddy's real values were not found in any source; the hosts end in
    `godaddy.com` / `secureserver.net`, which is what detection heuristics look at.
    """
    _, certificate = self_signed_certificate("sso.godaddy.com")
    return new_configuration(
        {
            "displayName": "GoDaddy",
            "issuerUri": f"urn:godaddy:sso:{domain.lower()}",
            "metadataExchangeUri": "https://sso.secureserver.net/adfs/services/trust/mex",
            "passiveSignInUri": "https://sso.godaddy.com/wsfed/ls",
            "activeSignInUri": "https://sso.secureserver.net/adfs/services/trust/2005/usernamemixed",
            "signOutUri": "https://sso.godaddy.com/wsfed/ls?wa=wsignout1.0",
            "preferredAuthenticationProtocol": "wsFed",
            "promptLoginBehavior": "nativeSupport",
            "signingCertificate": certificate,
            "federatedIdpMfaBehavior": "acceptIfMfaDoneByFederatedIdp",
        }
    )


def federate_godaddy(domain: Domain) -> dict[str, Any]:
    """Seed helper: federate `domain` the GoDaddy way (no constraint checks)."""
    domain.federation = godaddy_federation(domain.id)
    domain.authenticationType = "Federated"
    return domain.federation
