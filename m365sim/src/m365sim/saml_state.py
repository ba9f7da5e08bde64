"""The SP side's state and vocabulary: `sim.saml` (settings, pending AuthnRequests, sign-ins,
signing key) and the AADSTS errors a sign-in can fail with (`saml_sp`, `saml_validation`)."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from onelogin.saml2.utils import OneLogin_Saml2_Utils

if TYPE_CHECKING:
    from m365sim.simulator import Simulator

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
    # graph-facts §12.3: a federation change can take up to two hours to reach every sign-in.
    # /login.srf judges a response by each domain's configuration as it was this many seconds
    # ago (0: at once, which keeps tests fast; Graph reads always show the new one).
    federation_propagation_seconds: float = 0.0


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
        # domain -> [(since, configuration or None)]: what sign-ins use, oldest first
        self.federation_history: dict[str, list[tuple[float, dict[str, Any] | None]]] = {}

    def note_federation(
        self, domain: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        """A federation change of `domain` (create, update, delete) starts propagating now."""
        history = self.federation_history.setdefault(domain.lower(), [(0.0, copy.deepcopy(before))])
        history.append((time.time(), copy.deepcopy(after)))

    def configuration_for_sign_in(self, domain: str, current: dict[str, Any] | None) -> dict[str, Any] | None:
        """The configuration a sign-in of `domain` is judged by: the newest one older than the
        propagation time (`current` when there is none or no propagation time)."""
        lag = self.settings.federation_propagation_seconds
        history = self.federation_history.get(domain.lower())
        if not lag or not history:
            return current
        cutoff = time.time() - lag
        seen = [config for since, config in history if since <= cutoff]
        return seen[-1] if seen else history[0][1]

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
        self.federation_history.clear()


def sp_of(sim: Simulator) -> SamlSP:
    sp = getattr(sim, "saml", None)
    if not isinstance(sp, SamlSP):
        sp = SamlSP(sim)
        sim.saml = sp  # type: ignore[attr-defined]
    return sp
