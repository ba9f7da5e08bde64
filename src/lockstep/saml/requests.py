"""An AuthnRequest received from Microsoft 365 (HTTP-Redirect or HTTP-POST binding), checked.

Refused (RequestRefused, with plain words): oversized or malformed input, a DOCTYPE, an issuer
other than `urn:federation:MicrosoftOnline`, an AssertionConsumerServiceURL other than the
directory's ACS, a Destination other than our SSO URL, a request older than `REQUEST_LIFETIME`,
a bad signature, no signature when the federation requires one, a request id already answered,
a name given twice in a Redirect query, and a RelayState with a backslash or control character
or leading anywhere but https:// to Microsoft's login host. ForceAuthn and IsPassive are kept
(the SSO view acts on them), and a LogoutRequest's NameID.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.utils import timezone
from lxml import etree

from lockstep.directory.models import Organization
from lockstep.saml import signatures
from lockstep.saml.endpoints import SP_ENTITY_ID, acs_url, login_base, slo_url, sso_url
from lockstep.saml.models import AnsweredRequest, DomainFederation
from lockstep.saml.sp_certificates import sp_certificates
from lockstep.saml.xml_input import RequestRefused, decode_post, decode_redirect, parse

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
MAX_ID_CHARS = 256
MAX_RELAY_STATE_CHARS = 2048
REQUEST_LIFETIME = dt.timedelta(minutes=10)
SKEW = dt.timedelta(minutes=3)
ANSWERED_KEPT = REQUEST_LIFETIME + 2 * SKEW  # an older id is refused by its IssueInstant anyway


@dataclass(frozen=True)
class SamlMessage:
    """What the checks kept of a request (AuthnRequest or LogoutRequest)."""

    request_id: str
    binding: str  # "redirect" or "post"
    signed: bool  # a signature was present and verified
    relay_state: str
    force_authn: bool = False  # AuthnRequest ForceAuthn="true": the user must sign in again
    is_passive: bool = False  # AuthnRequest IsPassive="true": never show a sign-in page
    name_id: str = ""  # LogoutRequest: whose session Microsoft asks to end


def check_relay_state(relay_state: str | None, federation: DomainFederation) -> str:
    """RelayState passes unchanged, unless too long, with a backslash or control character, or an
    absolute URL anywhere but https:// to Microsoft's login host (no open redirect through us)."""
    value = relay_state or ""
    if len(value) > MAX_RELAY_STATE_CHARS:
        raise RequestRefused("relay_state", f"RelayState is longer than {MAX_RELAY_STATE_CHARS} characters.")
    if "\\" in value or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise RequestRefused("relay_state", "RelayState must not contain backslashes or control characters.")
    parts = urlsplit(value.strip())
    if parts.scheme or parts.netloc or value.strip().startswith("//"):
        allowed = urlsplit(login_base(federation.directory))
        if parts.scheme.lower() != "https" or parts.netloc.lower() != allowed.netloc.lower():
            raise RequestRefused(
                "relay_state",
                f"RelayState leads to {parts.netloc or value!r}, not to https://{allowed.netloc} (Microsoft's sign-in).",
            )
    return value


def _text(root: etree._Element, path: str) -> str:
    node = root.find(path)
    return (node.text or "").strip() if node is not None else ""


def _issue_instant(value: str | None) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise RequestRefused("malformed", "IssueInstant is missing or not a date and time.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def check_fields(root: etree._Element, federation: DomainFederation, kind: str = "AuthnRequest") -> str:
    """The request id, once the element, issuer, ACS, Destination and age are right."""
    if root.tag != f"{{{SAMLP}}}{kind}":
        raise RequestRefused("malformed", f"The message is not a SAML {kind}.")
    request_id = root.get("ID") or ""
    if root.get("Version") != "2.0" or not request_id or len(request_id) > MAX_ID_CHARS:
        raise RequestRefused(
            "malformed", f"The {kind} needs Version 2.0 and an ID of at most 256 characters."
        )
    issuer = _text(root, f"{{{SAML}}}Issuer")
    if issuer != SP_ENTITY_ID:
        raise RequestRefused(
            "unknown_sp",
            f"The request comes from {issuer or 'no issuer'!r}, not Microsoft 365 ({SP_ENTITY_ID}).",
        )
    acs = root.get("AssertionConsumerServiceURL")
    if acs is not None and acs != acs_url(federation.directory):
        raise RequestRefused(
            "foreign_acs",
            f"The request asks for the answer at {acs!r}, not at Microsoft's {acs_url(federation.directory)}.",
        )
    organization: Organization = federation.directory.organization
    destination = root.get("Destination")
    expected = (sso_url if kind == "AuthnRequest" else slo_url)(organization, federation.domain)
    if destination is not None and destination != expected:
        raise RequestRefused(
            "destination", f"The request was meant for {destination!r}, not for this domain's {expected}."
        )
    now = timezone.now()
    issued = _issue_instant(root.get("IssueInstant"))
    if issued > now + SKEW or issued < now - REQUEST_LIFETIME - SKEW:
        raise RequestRefused(
            "expired", "The request is too old (or from the future): start the sign-in again."
        )
    return request_id


def _require_unanswered(federation: DomainFederation, request_id: str) -> None:
    organization_id = federation.directory.organization_id
    if AnsweredRequest.objects.filter(organization_id=organization_id, request_id=request_id).exists():
        raise RequestRefused("replay", "This sign-in request was already answered: a request id works once.")


def _signature_refusal_if_required(federation: DomainFederation) -> None:
    if federation.require_signed_requests:
        raise RequestRefused("unsigned", "This domain requires signed requests, and this one is not signed.")


def _verified_root(
    root: etree._Element, federation: DomainFederation, query_string: str | None
) -> tuple[etree._Element, bool]:
    """The message as signed (or as received when unsigned and allowed) and whether it was signed."""
    present = (
        signatures.has_redirect_signature(query_string)
        if query_string is not None
        else signatures.has_xml_signature(root)
    )
    if not present:
        _signature_refusal_if_required(federation)
        return root, False
    certificates = sp_certificates(federation.directory)
    if not certificates:
        if federation.require_signed_requests:
            raise RequestRefused(
                "no_certificate",
                "Microsoft 365's signing certificate could not be fetched, so the signature cannot be checked.",
            )
        return root, False  # the certificate is unknown: nothing to verify against
    try:
        return _verify(root, query_string, certificates), True
    except RequestRefused:  # perhaps Microsoft rolled its key since we cached the metadata
        fresh = sp_certificates(federation.directory, refresh=True)
        if not fresh or fresh == certificates:
            raise
        return _verify(root, query_string, fresh), True


def _verify(root: etree._Element, query_string: str | None, certificates: list[str]) -> etree._Element:
    if query_string is not None:
        signatures.verify_redirect(query_string, certificates)
        return root
    return signatures.verify_xml(root, certificates)


def received_fields(method: str, query_string: str, form: Mapping[str, str]) -> dict[str, str]:
    """The SAML fields of a request: for the Redirect binding (GET) decoded from the raw query its
    signature covers (never Django's `request.GET`, which another spelling of a name can feed),
    for the POST binding the form. RequestRefused when a name appears twice."""
    if method == "GET":
        return signatures.redirect_parameters(query_string)
    return {name: str(form[name]) for name in ("SAMLRequest", "RelayState") if name in form}


def receive(
    federation: DomainFederation,
    *,
    fields: Mapping[str, str],
    query_string: str | None,
    kind: str = "AuthnRequest",
) -> SamlMessage:
    """Check a received request. `fields` come from `received_fields`; `query_string` is the raw
    query for the Redirect binding (the one `fields` were decoded from), None for POST."""
    saml_request = fields.get("SAMLRequest")
    if not saml_request:
        raise RequestRefused("missing", "The request has no SAMLRequest.")
    relay = check_relay_state(fields.get("RelayState"), federation)
    redirect = query_string is not None
    xml = decode_redirect(saml_request) if redirect else decode_post(saml_request)
    root, signed = _verified_root(parse(xml), federation, query_string)
    request_id = check_fields(root, federation, kind)
    _require_unanswered(federation, request_id)
    return SamlMessage(
        request_id,
        "redirect" if redirect else "post",
        signed,
        relay,
        force_authn=_flag(root, "ForceAuthn"),
        is_passive=_flag(root, "IsPassive"),
        name_id=_text(root, f"{{{SAML}}}NameID")[:MAX_ID_CHARS],
    )


def _flag(root: etree._Element, attribute: str) -> bool:
    """An xs:boolean attribute: "true" or "1" (SAML core 3.4.1)."""
    return (root.get(attribute) or "").strip() in ("true", "1")


def mark_answered(organization_id: int, request_id: str) -> None:
    """Record the id as answered (RequestRefused when it already was); prunes expired rows."""
    AnsweredRequest.objects.filter(at__lt=timezone.now() - ANSWERED_KEPT).delete()
    try:
        with transaction.atomic():
            AnsweredRequest.objects.create(organization_id=organization_id, request_id=request_id)
    except IntegrityError:
        raise RequestRefused(
            "replay", "This sign-in request was already answered: a request id works once."
        ) from None
