"""A checked request carried to our own GET (`/sso?c=...`): signed and short-lived, so nothing is
stored per request and a cross-site POST (which carries no SameSite=Lax cookie) never touches
the user's session. The same URL is the login page's `next` while the user signs in."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core import signing

from lockstep.saml.requests import REQUEST_LIFETIME, SamlMessage
from lockstep.saml.xml_input import RequestRefused

SALT = "lockstep.saml.continuation"


@dataclass(frozen=True)
class Continuation:
    organization_slug: str
    domain: str
    message: SamlMessage
    received_at: float = 0.0  # epoch seconds


def dumps(organization_slug: str, domain: str, message: SamlMessage, purpose: str = "sso") -> str:
    payload = {
        "p": purpose,
        "o": organization_slug,
        "d": domain,
        "i": message.request_id,
        "b": message.binding,
        "s": message.signed,
        "r": message.relay_state,
        "f": message.force_authn,
        "a": message.is_passive,
        "n": message.name_id,
        "t": time.time(),  # when the request was received: ForceAuthn needs a sign-in after it
    }
    return signing.dumps(payload, salt=SALT, compress=True)


def loads(token: str, organization_slug: str, domain: str, purpose: str = "sso") -> Continuation:
    try:
        data = signing.loads(token, salt=SALT, max_age=REQUEST_LIFETIME)
    except signing.BadSignature:  # SignatureExpired included
        raise RequestRefused(
            "expired", "This sign-in link has expired or is not valid: start again from Microsoft 365."
        ) from None
    if data.get("o") != organization_slug or data.get("d") != domain or data.get("p") != purpose:
        raise RequestRefused("expired", "This sign-in link belongs to another domain.")
    message = SamlMessage(
        str(data["i"]),
        str(data["b"]),
        bool(data["s"]),
        str(data["r"]),
        force_authn=bool(data.get("f")),
        is_passive=bool(data.get("a")),
        name_id=str(data.get("n") or ""),
    )
    return Continuation(organization_slug, domain, message, float(data.get("t") or 0.0))
