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
The state and the errors are in `saml_state`, the validation of a response in `saml_validation`.
"""

from __future__ import annotations

import base64
import html
import time
import uuid
import zlib
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlencode

import xmlsec  # noqa: F401  (python3-saml's backend: a broken lxml/xmlsec pair fails at import)
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from m365sim.saml_state import (
    MFA_METHOD,
    PERSISTENT,
    RSA_SHA256,
    SHA256,
    SP_ENTITY_ID,
    SamlError,
    SamlSettings,
    SamlSP,
    sp_of,
)
from m365sim.saml_validation import validate_response

if TYPE_CHECKING:
    from m365sim.simulator import Simulator
    from m365sim.state import Domain

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
