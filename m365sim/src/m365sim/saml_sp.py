"""The Microsoft 365 side of SAML 2.0 (graph-facts §8.2): m365sim as the SP.

Routes (mounted at the root by ``app.create_app``):

* ``GET /federationmetadata/saml20/federationmetadata.xml`` - SP metadata (entityID
  ``urn:federation:MicrosoftOnline``, ACS = this server's ``/login.srf``, WantAssertionsSigned).
* ``GET /_sim/saml/start?domain=D&binding=redirect|post&signed=0|1&RelayState=R`` - sends the
  §8.2 AuthnRequest to the federated domain's ``passiveSignInUri``: a 302 with a deflated
  ``SAMLRequest`` (signed: ``SigAlg``/``Signature`` query parameters, RSA-SHA256) or an
  auto-posting HTML form (signed: enveloped XML signature). ``signed`` defaults to the
  configuration's ``isSignedAuthenticationRequestRequired``. The request id is remembered for
  ``InResponseTo``.
* ``POST /login.srf`` (form ``SAMLResponse`` + ``RelayState``) - validates the response with
  python3-saml in strict mode (XSD, signed assertion, Audience, Destination, Recipient,
  timestamps, InResponseTo) and then the Entra checks of §8.2, and answers a "Signed in as"
  page (200) or an AADSTS error page (400). Both carry a machine-readable
  ``<main id="result" data-result=... data-error-code=... data-reason=...>``.

Every attempt is recorded in ``sim.saml.sign_ins`` (dicts). Settings: ``sim.saml.settings``.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlencode

import xmlsec  # noqa: F401  (python3-saml's backend: a broken lxml/xmlsec pair fails at import)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from m365sim.simulator import Simulator
    from m365sim.state import Domain

SP_ENTITY_ID = "urn:federation:MicrosoftOnline"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
MFA_METHOD = "http://schemas.microsoft.com/claims/multipleauthn"
AUTHN_METHODS_ATTR = "http://schemas.microsoft.com/claims/authnmethodsreferences"
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
}
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"

# (AADSTS code, message). Only 51004 is reported by users for this case [OBS]; the others are
# real Entra codes picked for the closest meaning, UNCERTAIN for SAML-P (see README.md).
ERRORS: dict[str, tuple[str, str]] = {
    "missing_response": (
        "AADSTS750054",
        "SAMLRequest or SAMLResponse must be present as query string parameters in HTTP request "
        "for SAML Redirect binding or as form parameters for SAML Post binding.",
    ),
    "malformed": ("AADSTS50008", "SAML token is invalid."),
    "invalid_token": ("AADSTS50008", "SAML token is invalid."),
    "missing_issuer": ("AADSTS50008", "SAML token is invalid. The token has no Issuer."),
    "issuer": ("AADSTS50008", "SAML token is invalid. The Response and Assertion issuers differ."),
    "idp_status": ("AADSTS50008", "SAML token is invalid. The identity provider returned an error status."),
    "assertion_not_signed": ("AADSTS50008", "SAML token is invalid. The assertion is not signed."),
    "nameid_format": (
        "AADSTS50008",
        "SAML token is invalid. Only the persistent NameID format "
        "(urn:oasis:names:tc:SAML:2.0:nameid-format:persistent) is supported.",
    ),
    "missing_idpemail": ("AADSTS50008", "SAML token is invalid. The IDPEmail attribute is missing."),
    "unknown_issuer": ("AADSTS50107", "The requested federation realm object '{issuer}' does not exist."),
    "signature_invalid": (
        "AADSTS5000811",
        "Unable to verify token signature. The signing key identifier does not match any valid registered keys.",
    ),
    "expired": ("AADSTS500133", "Assertion is not within its valid time range: it has expired."),
    "not_yet_valid": ("AADSTS500133", "Assertion is not within its valid time range: it is not yet valid."),
    "audience": ("AADSTS50013", "Assertion is invalid: the audience is not urn:federation:MicrosoftOnline."),
    "destination": ("AADSTS50013", "Assertion is invalid: the Response Destination is not {acs}."),
    "recipient": ("AADSTS50013", "Assertion is invalid: the SubjectConfirmationData Recipient is not {acs}."),
    "in_response_to": ("AADSTS50013", "Assertion is invalid: InResponseTo does not match a pending request."),
    "unknown_immutable_id": (
        "AADSTS51004",
        "The user account {name_id} does not exist in the {tenant} directory. "
        "To sign into this application, the account must be added to the directory.",
    ),
    "upn_domain_mismatch": (
        "AADSTS5000819",
        "SAML Assertion is invalid. The user's domain '{user_domain}' is not the federated domain "
        "'{domain}' of issuer '{issuer}'.",
    ),
    "account_disabled": ("AADSTS50057", "The user account is disabled."),
    "domain_not_federated": ("AADSTS50107", "The domain '{domain}' has no SAML federation configuration."),
}

_VALIDATION_REASONS: dict[int, str] = {
    OneLogin_Saml2_ValidationError.INVALID_SIGNATURE: "signature_invalid",
    OneLogin_Saml2_ValidationError.WRONG_SIGNED_ELEMENT: "signature_invalid",
    OneLogin_Saml2_ValidationError.ID_NOT_FOUND_IN_SIGNED_ELEMENT: "signature_invalid",
    OneLogin_Saml2_ValidationError.DUPLICATED_ID_IN_SIGNED_ELEMENTS: "signature_invalid",
    OneLogin_Saml2_ValidationError.INVALID_SIGNED_ELEMENT: "signature_invalid",
    OneLogin_Saml2_ValidationError.DUPLICATED_REFERENCE_IN_SIGNED_ELEMENTS: "signature_invalid",
    OneLogin_Saml2_ValidationError.UNEXPECTED_SIGNED_ELEMENTS: "signature_invalid",
    OneLogin_Saml2_ValidationError.WRONG_NUMBER_OF_SIGNATURES_IN_RESPONSE: "signature_invalid",
    OneLogin_Saml2_ValidationError.WRONG_NUMBER_OF_SIGNATURES_IN_ASSERTION: "signature_invalid",
    OneLogin_Saml2_ValidationError.WRONG_NUMBER_OF_SIGNATURES: "signature_invalid",
    OneLogin_Saml2_ValidationError.NO_SIGNED_ASSERTION: "assertion_not_signed",
    OneLogin_Saml2_ValidationError.NO_SIGNATURE_FOUND: "assertion_not_signed",
    OneLogin_Saml2_ValidationError.NO_SIGNED_MESSAGE: "assertion_not_signed",
    OneLogin_Saml2_ValidationError.ASSERTION_EXPIRED: "expired",
    OneLogin_Saml2_ValidationError.RESPONSE_EXPIRED: "expired",
    OneLogin_Saml2_ValidationError.SESSION_EXPIRED: "expired",
    OneLogin_Saml2_ValidationError.ASSERTION_TOO_EARLY: "not_yet_valid",
    OneLogin_Saml2_ValidationError.WRONG_AUDIENCE: "audience",
    OneLogin_Saml2_ValidationError.WRONG_DESTINATION: "destination",
    OneLogin_Saml2_ValidationError.EMPTY_DESTINATION: "destination",
    OneLogin_Saml2_ValidationError.WRONG_SUBJECTCONFIRMATION: "recipient",
    OneLogin_Saml2_ValidationError.WRONG_INRESPONSETO: "in_response_to",
    OneLogin_Saml2_ValidationError.WRONG_ISSUER: "issuer",
    OneLogin_Saml2_ValidationError.ISSUER_MULTIPLE_IN_RESPONSE: "issuer",
    OneLogin_Saml2_ValidationError.ISSUER_NOT_FOUND_IN_ASSERTION: "missing_issuer",
    OneLogin_Saml2_ValidationError.STATUS_CODE_IS_NOT_SUCCESS: "idp_status",
    OneLogin_Saml2_ValidationError.NO_NAMEID: "invalid_token",
    OneLogin_Saml2_ValidationError.EMPTY_NAMEID: "invalid_token",
}


@dataclass
class SamlSettings:
    """Switches for the SP side. See README.md ("SAML")."""

    # federatedTokenValidationPolicy.rootDomains: "none" = enforce that the user's UPN domain is
    # the issuer's federated domain (or a subdomain of it); "all" = no check; "enumerated" =
    # no check for users whose domain is in `validation_root_domains`.
    root_domains: str = "none"
    validation_root_domains: list[str] = field(default_factory=list)
    require_known_in_response_to: bool = True  # an InResponseTo we never issued is rejected
    require_idpemail: bool = True  # §8.2: the IDPEmail attribute is required
    request_ttl_s: float = 600.0  # how long an AuthnRequest id stays usable


class SamlError(Exception):
    def __init__(self, reason: str, detail: str = "", **values: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail
        self.values = values

    @property
    def code(self) -> str:
        return ERRORS[self.reason][0]

    @property
    def message(self) -> str:
        template = ERRORS[self.reason][1]
        try:
            return template.format(**self.values)
        except KeyError:
            return template


class SamlSP:
    """`sim.saml`: pending AuthnRequests, the sign-in record and the SP signing key."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.settings = SamlSettings()
        self.pending: dict[str, dict[str, Any]] = {}
        self.sign_ins: list[dict[str, Any]] = []
        self._key: rsa.RSAPrivateKey | None = None
        self._cert_b64 = ""

    # signing key of "MicrosoftOnline" for signed AuthnRequests
    def key_and_cert(self) -> tuple[rsa.RSAPrivateKey, str]:
        if self._key is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MicrosoftOnline")])
            start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(start)
                .not_valid_after(start + dt.timedelta(days=3650))
                .sign(key, hashes.SHA256())
            )
            self._key = key
            self._cert_b64 = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        return self._key, self._cert_b64

    def certificate_pem(self) -> str:
        _, b64 = self.key_and_cert()
        return OneLogin_Saml2_Utils.format_cert(b64)

    def remember(self, request_id: str, domain: str) -> None:
        now = time.time()
        self.pending = {k: v for k, v in self.pending.items() if now - v["at"] < self.settings.request_ttl_s}
        self.pending[request_id] = {"domain": domain, "at": now}

    def reset(self) -> None:
        self.pending.clear()
        self.sign_ins.clear()


def sp_of(sim: Simulator) -> SamlSP:
    sp = getattr(sim, "saml", None)
    if not isinstance(sp, SamlSP):
        sp = SamlSP(sim)
        sim.saml = sp  # type: ignore[attr-defined]
    return sp


# ----- helpers ------------------------------------------------------------------------------------


def _base(request: Request) -> str:
    host = request.headers.get("host") or request.url.netloc
    return f"{request.url.scheme}://{host}"


def acs_url(request: Request) -> str:
    return _base(request) + "/login.srf"


def _instant(ts: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if ts is None else ts))


def _federated_domain(sim: Simulator, name: str) -> Domain | None:
    domain = sim.tenant.domains.get(name.lower())
    if domain is None or not domain.federation or domain.authenticationType != "Federated":
        return None
    return domain


def decode_immutable_id(name_id: str) -> str:
    """Undo the §8.2 encoding of characters that are not HTML-safe (`+` sent as `.2B`)."""
    return re.sub(r"\.([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), name_id)


# ----- SP metadata ---------------------------------------------------------------------------------


def metadata_xml(request: Request, sp: SamlSP) -> str:
    acs = html.escape(acs_url(request), quote=True)
    _, cert = sp.key_and_cert()
    formats = [
        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        "urn:mace:shibboleth:1.0:nameIdentifier",
        "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
        PERSISTENT,
    ]
    name_ids = "".join(f"<NameIDFormat>{f}</NameIDFormat>" for f in formats)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{SP_ENTITY_ID}" '
        f'ID="_{uuid.uuid4()}">'
        '<SPSSODescriptor WantAssertionsSigned="true" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#">'
        f"<X509Data><X509Certificate>{cert}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>"
        '<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f'Location="{acs}"/>'
        f"{name_ids}"
        '<AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f'Location="{acs}" index="0" isDefault="true"/>'
        '<AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST-SimpleSign" '
        f'Location="{acs}" index="1"/>'
        '<AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:PAOS" '
        f'Location="{acs}" index="2"/>'
        "</SPSSODescriptor></EntityDescriptor>"
    )


# ----- SP-initiated start --------------------------------------------------------------------------


def authn_request_xml(request_id: str, destination: str | None = None) -> str:
    """The §8.2 AuthnRequest; `destination` is added when the request is signed."""
    dest = f' Destination="{html.escape(destination, quote=True)}"' if destination else ""
    return (
        f'<samlp:AuthnRequest ID="{request_id}" Version="2.0" IssueInstant="{_instant()}"{dest} '
        'xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">'
        f'<Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion">{SP_ENTITY_ID}</Issuer>'
        f'<samlp:NameIDPolicy Format="{PERSISTENT}"/>'
        "</samlp:AuthnRequest>"
    )


def _sign_redirect_query(key: rsa.RSAPrivateKey, saml_request: str, relay_state: str | None) -> str:
    """SAML HTTP-Redirect binding signature over the encoded query (RSA-SHA256)."""
    parts = [f"SAMLRequest={quote(saml_request, safe='')}"]
    if relay_state is not None:
        parts.append(f"RelayState={quote(relay_state, safe='')}")
    parts.append(f"SigAlg={quote(RSA_SHA256, safe='')}")
    signed = "&".join(parts)
    signature = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signed + "&Signature=" + quote(base64.b64encode(signature).decode(), safe="")


def error_page(reason: str, sp: SamlSP | None = None, detail: str = "", **values: str) -> HTMLResponse:
    problem = SamlError(reason, detail, **values)
    return _render_error(problem)


def _render_error(problem: SamlError) -> HTMLResponse:
    trace, corr = uuid.uuid4(), uuid.uuid4()
    code = html.escape(problem.code)
    detail = f"<p class='detail'>{html.escape(problem.detail)}</p>" if problem.detail else ""
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Sign in to your account</title></head>"
        f"<body><main id='result' data-result='error' data-error-code='{code}' "
        f"data-reason='{html.escape(problem.reason)}'>"
        "<h1>Sorry, but we're having trouble signing you in.</h1>"
        f"<p class='error'>{code}: {html.escape(problem.message)}</p>{detail}"
        f"<p class='trace'>Trace ID: {trace}<br>Correlation ID: {corr}<br>Timestamp: {_instant()}</p>"
        "</main></body></html>"
    )
    return HTMLResponse(body, status_code=400)


async def start(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    sp = sp_of(sim)
    name = request.query_params.get("domain", "")
    domain = _federated_domain(sim, name)
    if domain is None or domain.federation is None:
        return error_page("domain_not_federated", domain=name)
    config = domain.federation
    passive = config.get("passiveSignInUri")
    if not passive or config.get("preferredAuthenticationProtocol") != "saml":
        return error_page(
            "domain_not_federated",
            detail="preferredAuthenticationProtocol must be 'saml' and passiveSignInUri set.",
            domain=name,
        )
    binding = request.query_params.get("binding", "redirect").lower()
    if binding not in ("redirect", "post"):
        return Response("binding must be redirect or post", status_code=400)
    signed_param = request.query_params.get("signed")
    signed = (
        bool(config.get("isSignedAuthenticationRequestRequired"))
        if signed_param is None
        else (signed_param.lower() in ("1", "true", "yes"))
    )
    relay_state = request.query_params.get("RelayState") or request.query_params.get("relay_state")
    request_id = "_" + str(uuid.uuid4())
    xml = authn_request_xml(request_id, passive if signed else None)
    sp.remember(request_id, domain.id)
    key, cert = sp.key_and_cert()
    if binding == "redirect":
        deflated = zlib.compress(xml.encode())[2:-4]  # raw DEFLATE
        saml_request = base64.b64encode(deflated).decode()
        if signed:
            query = _sign_redirect_query(key, saml_request, relay_state)
        else:
            params = {"SAMLRequest": saml_request}
            if relay_state is not None:
                params["RelayState"] = relay_state
            query = urlencode(params)
        separator = "&" if "?" in passive else "?"
        return RedirectResponse(passive + separator + query, status_code=302)
    if signed:
        pem_key = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        xml = OneLogin_Saml2_Utils.add_sign(
            xml,
            pem_key,
            OneLogin_Saml2_Utils.format_cert(cert),
            sign_algorithm=RSA_SHA256,
            digest_algorithm=SHA256,
        ).decode()
    fields = {"SAMLRequest": base64.b64encode(xml.encode()).decode()}
    if relay_state is not None:
        fields["RelayState"] = relay_state
    inputs = "".join(
        f"<input type='hidden' name='{k}' value='{html.escape(v, quote=True)}'>" for k, v in fields.items()
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Working...</title></head>"
        "<body onload='document.forms[0].submit()'>"
        f"<form method='post' action='{html.escape(passive, quote=True)}'>{inputs}"
        "<noscript><button type='submit'>Continue</button></noscript></form></body></html>"
    )
    return HTMLResponse(page)


# ----- /login.srf ------------------------------------------------------------------------------------


def _onelogin_settings(acs: str, issuer: str, certs: list[str]) -> OneLogin_Saml2_Settings:
    data = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": SP_ENTITY_ID,
            "assertionConsumerService": {
                "url": acs,
                "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
            },
            "NameIDFormat": PERSISTENT,
            "x509cert": "",
            "privateKey": "",
        },
        "idp": {
            "entityId": issuer,
            "singleSignOnService": {
                "url": "https://idp.invalid/sso",
                "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
            },
            "x509certMulti": {"signing": certs},
        },
        "security": {
            "wantAssertionsSigned": True,
            "wantMessagesSigned": False,
            "wantNameId": True,
            "wantAttributeStatement": False,
            "wantAssertionsEncrypted": False,
            "wantNameIdEncrypted": False,
            "requestedAuthnContext": False,
            "rejectDeprecatedAlgorithm": False,  # §8.2: rsa-sha1 still accepted
            "rejectUnsolicitedResponsesWithInResponseTo": False,
            "allowRepeatAttributeName": True,
        },
    }
    return OneLogin_Saml2_Settings(data, sp_validation_only=True)


def _text(node: Any) -> str:
    return (node.text or "").strip() if node is not None else ""


def _check_endpoints(document: Any, acs: str) -> None:
    """Exact Destination and Recipient checks (python3-saml compares by prefix/substring)."""
    normal = OneLogin_Saml2_Utils.normalize_url(acs)
    destination = document.get("Destination")
    if destination is None or OneLogin_Saml2_Utils.normalize_url(destination) != normal:
        raise SamlError("destination", f"Destination: {destination!r}", acs=acs)
    recipients = document.xpath(
        "/samlp:Response/saml:Assertion/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData/@Recipient",
        namespaces=NS,
    )
    if not recipients or any(OneLogin_Saml2_Utils.normalize_url(r) != normal for r in recipients):
        raise SamlError("recipient", f"Recipient: {', '.join(recipients) or 'missing'}", acs=acs)


def validate_response(sim: Simulator, acs: str, host: str, https: bool, saml_response: str) -> dict[str, Any]:
    """Validate a posted SAMLResponse; returns the sign-in facts or raises SamlError."""
    sp = sp_of(sim)
    try:
        raw = base64.b64decode(saml_response, validate=False)
        document = OneLogin_Saml2_XML.to_etree(raw)
    except Exception as problem:
        raise SamlError("malformed", str(problem)) from None
    if document.tag != f"{{{NS['samlp']}}}Response":
        raise SamlError("malformed", "The document is not a samlp:Response.")
    issuer = _text(document.find("saml:Assertion/saml:Issuer", NS)) or _text(document.find("saml:Issuer", NS))
    if not issuer:
        raise SamlError("missing_issuer")
    domain = next(
        (d for d in sim.tenant.domains.values() if d.federation and d.federation.get("issuerUri") == issuer),
        None,
    )
    if domain is None or domain.federation is None:
        raise SamlError("unknown_issuer", issuer=issuer)
    config = domain.federation
    _check_endpoints(document, acs)
    in_response_to = document.get("InResponseTo")
    if (
        in_response_to is not None
        and in_response_to not in sp.pending
        and sp.settings.require_known_in_response_to
    ):
        raise SamlError("in_response_to", f"InResponseTo: {in_response_to}")
    certs = [c for c in (config.get("signingCertificate"), config.get("nextSigningCertificate")) if c]
    response = OneLogin_Saml2_Response(_onelogin_settings(acs, issuer, certs), saml_response)
    request_data = {"https": "on" if https else "off", "http_host": host, "script_name": "/login.srf"}
    try:
        response.is_valid(request_data, in_response_to, raise_exceptions=True)
    except OneLogin_Saml2_ValidationError as problem:
        raise SamlError(_VALIDATION_REASONS.get(problem.code, "invalid_token"), str(problem)) from None
    except (OneLogin_Saml2_Error, Exception) as problem:
        raise SamlError("invalid_token", str(problem)) from None
    # the Entra checks of §8.2, on the validated assertion
    if response.get_nameid_format() != PERSISTENT:
        raise SamlError("nameid_format", f"NameID Format: {response.get_nameid_format()}")
    name_id = response.get_nameid() or ""
    attributes = response.get_attributes()
    if sp.settings.require_idpemail and not attributes.get("IDPEmail"):
        raise SamlError("missing_idpemail")
    tenant = sim.tenant
    user = tenant.find_by_immutable_id(name_id) or tenant.find_by_immutable_id(decode_immutable_id(name_id))
    if user is None:
        raise SamlError("unknown_immutable_id", name_id=name_id, tenant=tenant.display_name)
    upn: str = user["userPrincipalName"]
    user_domain = upn.rsplit("@", 1)[-1].lower()
    root = domain.id.lower()
    in_domain = user_domain == root or user_domain.endswith("." + root)
    policy = sp.settings.root_domains
    exempt = policy == "all" or (
        policy == "enumerated" and user_domain in {d.lower() for d in sp.settings.validation_root_domains}
    )
    if not in_domain and not exempt:
        raise SamlError("upn_domain_mismatch", user_domain=user_domain, domain=domain.id, issuer=issuer)
    if not user.get("accountEnabled", True):
        raise SamlError("account_disabled")
    methods = set(response.get_authn_contexts() or []) | set(attributes.get(AUTHN_METHODS_ATTR, []))
    mfa = MFA_METHOD in methods
    if in_response_to is not None:
        sp.pending.pop(in_response_to, None)
    return {
        "upn": upn,
        "user_id": user["id"],
        "name_id": name_id,
        "issuer": issuer,
        "domain": domain.id,
        "mfa": mfa,
        "mfa_honored": mfa and config.get("federatedIdpMfaBehavior") != "rejectMfaByFederatedIdp",
        "idp_email": (attributes.get("IDPEmail") or [None])[0],
        "in_response_to": in_response_to,
        "assertion_id": response.get_assertion_id(),
    }


def _success_page(facts: dict[str, Any], relay_state: str | None) -> HTMLResponse:
    upn = html.escape(facts["upn"])
    mfa = "true" if facts["mfa"] else "false"
    relay = f"<p class='relay-state'>RelayState: {html.escape(relay_state)}</p>" if relay_state else ""
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Microsoft 365 (m365sim)</title></head>"
        f"<body><main id='result' data-result='success' data-upn='{upn}' data-mfa='{mfa}' "
        f"data-user-id='{html.escape(facts['user_id'])}'>"
        f"<h1>Signed in as {upn}</h1>"
        f"<p class='mfa'>MFA claim ({MFA_METHOD}) present: {'yes' if facts['mfa'] else 'no'}</p>"
        f"<p class='issuer'>Issuer: {html.escape(facts['issuer'])}</p>{relay}"
        "</main></body></html>"
    )
    return HTMLResponse(body)


async def login_srf(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    sp = sp_of(sim)
    # the SAML HTTP-POST binding is application/x-www-form-urlencoded (no multipart needed)
    raw = (await request.body()).decode("utf-8", "replace") if request.method == "POST" else ""
    form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    saml_response = form.get("SAMLResponse")
    relay = form.get("RelayState")
    record: dict[str, Any] = {"at": _instant(), "relay_state": relay}
    try:
        if not isinstance(saml_response, str) or not saml_response.strip():
            raise SamlError("missing_response")
        acs = acs_url(request)
        host = request.headers.get("host") or request.url.netloc
        with sim.lock:
            facts = validate_response(sim, acs, host, request.url.scheme == "https", saml_response)
    except SamlError as problem:
        record.update(result="error", error_code=problem.code, reason=problem.reason, detail=problem.detail)
        sp.sign_ins.append(record)
        return _render_error(problem)
    record.update(result="success", error_code=None, reason=None, **facts)
    sp.sign_ins.append(record)
    return _success_page(facts, relay)


async def metadata(request: Request) -> Response:
    sp = sp_of(request.app.state.sim)
    return Response(metadata_xml(request, sp), media_type="application/samlmetadata+xml")


def routes(sim: Simulator) -> list[BaseRoute]:
    sp_of(sim)
    return [
        Route("/federationmetadata/saml20/federationmetadata.xml", metadata, methods=["GET"]),
        Route("/_sim/saml/start", start, methods=["GET"]),
        Route("/login.srf", login_srf, methods=["GET", "POST"]),
    ]


__all__ = ["SamlError", "SamlSP", "SamlSettings", "authn_request_xml", "routes", "sp_of", "validate_response"]
