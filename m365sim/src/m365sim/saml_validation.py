"""Validating a posted SAMLResponse (``POST /login.srf``, `saml_sp`): python3-saml in strict
mode, then exact Destination and Recipient checks and the Entra checks of graph-facts §8.2."""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any

import xmlsec  # noqa: F401  (python3-saml's backend: a broken lxml/xmlsec pair fails at import)
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from m365sim.saml_state import (
    AUTHN_METHODS_ATTR,
    MFA_METHOD,
    NS,
    PERSISTENT,
    SP_ENTITY_ID,
    SamlError,
    sp_of,
)

if TYPE_CHECKING:
    from m365sim.simulator import Simulator

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


def decode_immutable_id(name_id: str) -> str:
    """Undo the §8.2 encoding of characters that are not HTML-safe (`+` sent as `.2B`)."""
    return re.sub(r"\.([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), name_id)


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
    # each domain's configuration as sign-ins see it (a change may still be propagating)
    effective = {
        name: sp.configuration_for_sign_in(name, d.federation) for name, d in sim.tenant.domains.items()
    }
    name = next((n for n, c in effective.items() if c and c.get("issuerUri") == issuer), None)
    config = effective.get(name) if name else None
    if name is None or config is None:
        raise SamlError("unknown_issuer", issuer=issuer)
    domain = sim.tenant.domains[name]
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
