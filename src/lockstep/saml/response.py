"""The SAML Response Lockstep posts to Microsoft's ACS, built with lxml and signed with signxml.

One small method per element (DESIGN). The assertion is signed (RSA-SHA256, SHA-256 digest,
exclusive canonicalization, enveloped; graph-facts §8.2 "The Assertion must be signed"); the
Response around it is not (optional for Microsoft). The signature sits right after the
assertion's Issuer, where the SAML schema wants it.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass

from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner

from lockstep.saml import keys
from lockstep.saml.endpoints import (
    AUTHN_METHODS_ATTRIBUTE,
    MFA_METHOD,
    PASSWORD_PROTECTED,
    PERSISTENT,
    SP_ENTITY_ID,
)
from lockstep.saml.models import SigningKey

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
NSMAP = {"samlp": SAMLP, "saml": SAML}
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
IDP_EMAIL = "IDPEmail"
VALIDITY = dt.timedelta(minutes=5)  # Conditions and SubjectConfirmationData lifetime
SKEW = dt.timedelta(minutes=1)  # NotBefore this far back, for the SP's clock


@dataclass(frozen=True)
class Subject:
    """Who the assertion is about: the immutable id (NameID) and the UPN (IDPEmail)."""

    immutable_id: str
    upn: str
    mfa: bool  # passed a second factor in this session: the MFA claim is added
    authn_instant: dt.datetime
    session_index: str


@dataclass(frozen=True)
class Audience:
    """Where the response goes and for whom."""

    issuer: str  # the domain's issuerUri
    acs_url: str  # Destination and Recipient
    in_response_to: str | None  # None for IdP-initiated sign-in
    audience: str = SP_ENTITY_ID


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def new_id() -> str:
    """An xs:ID (must not start with a digit)."""
    return "_" + secrets.token_hex(20)


def instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ResponseBuilder:
    """Builds one signed Response; `build()` returns the XML bytes."""

    def __init__(self, subject: Subject, audience: Audience, key: SigningKey, now: dt.datetime) -> None:
        self.subject = subject
        self.audience = audience
        self.key = key
        self.now = now

    # --- the Response -----------------------------------------------------------------------
    def response(self) -> etree._Element:
        attributes = {
            "ID": new_id(),
            "Version": "2.0",
            "IssueInstant": instant(self.now),
            "Destination": self.audience.acs_url,
        }
        if self.audience.in_response_to:
            attributes["InResponseTo"] = self.audience.in_response_to
        element = etree.Element(_q(SAMLP, "Response"), attributes, nsmap=NSMAP)
        element.append(self.issuer())
        element.append(self.status())
        element.append(self.signed_assertion())
        return element

    def issuer(self) -> etree._Element:
        element = etree.Element(_q(SAML, "Issuer"))
        element.text = self.audience.issuer
        return element

    def status(self) -> etree._Element:
        element = etree.Element(_q(SAMLP, "Status"))
        etree.SubElement(element, _q(SAMLP, "StatusCode"), {"Value": SUCCESS})
        return element

    # --- the Assertion ----------------------------------------------------------------------
    def assertion(self) -> etree._Element:
        element = etree.Element(
            _q(SAML, "Assertion"),
            {"ID": new_id(), "Version": "2.0", "IssueInstant": instant(self.now)},
            nsmap={"saml": SAML},
        )
        element.append(self.issuer())
        element.append(self.signature_placeholder())
        element.append(self.subject_element())
        element.append(self.conditions())
        element.append(self.authn_statement())
        element.append(self.attribute_statement())
        return element

    def signature_placeholder(self) -> etree._Element:
        """signxml puts the enveloped signature here (after Issuer, as the schema requires)."""
        return etree.Element(_q(DS, "Signature"), {"Id": "placeholder"}, nsmap={"ds": DS})

    def subject_element(self) -> etree._Element:
        element = etree.Element(_q(SAML, "Subject"))
        element.append(self.name_id())
        element.append(self.subject_confirmation())
        return element

    def name_id(self) -> etree._Element:
        element = etree.Element(_q(SAML, "NameID"), {"Format": PERSISTENT})
        element.text = self.subject.immutable_id
        return element

    def subject_confirmation(self) -> etree._Element:
        element = etree.Element(_q(SAML, "SubjectConfirmation"), {"Method": BEARER})
        data = {"NotOnOrAfter": instant(self.now + VALIDITY), "Recipient": self.audience.acs_url}
        if self.audience.in_response_to:
            data["InResponseTo"] = self.audience.in_response_to
        etree.SubElement(element, _q(SAML, "SubjectConfirmationData"), data)
        return element

    def conditions(self) -> etree._Element:
        element = etree.Element(
            _q(SAML, "Conditions"),
            {"NotBefore": instant(self.now - SKEW), "NotOnOrAfter": instant(self.now + VALIDITY)},
        )
        restriction = etree.SubElement(element, _q(SAML, "AudienceRestriction"))
        etree.SubElement(restriction, _q(SAML, "Audience")).text = self.audience.audience
        return element

    def authn_statement(self) -> etree._Element:
        element = etree.Element(
            _q(SAML, "AuthnStatement"),
            {"AuthnInstant": instant(self.subject.authn_instant), "SessionIndex": self.subject.session_index},
        )
        context = etree.SubElement(element, _q(SAML, "AuthnContext"))
        etree.SubElement(context, _q(SAML, "AuthnContextClassRef")).text = PASSWORD_PROTECTED
        return element

    def attribute_statement(self) -> etree._Element:
        element = etree.Element(_q(SAML, "AttributeStatement"))
        element.append(self.attribute(IDP_EMAIL, [self.subject.upn]))
        if self.subject.mfa:
            element.append(self.attribute(AUTHN_METHODS_ATTRIBUTE, [MFA_METHOD]))
        return element

    def attribute(self, name: str, values: list[str]) -> etree._Element:
        element = etree.Element(_q(SAML, "Attribute"), {"Name": name})
        for value in values:
            etree.SubElement(element, _q(SAML, "AttributeValue")).text = value
        return element

    # --- signing ----------------------------------------------------------------------------
    def signed_assertion(self) -> etree._Element:
        return sign_enveloped(self.assertion(), self.key)

    def build(self) -> bytes:
        return etree.tostring(self.response(), xml_declaration=True, encoding="UTF-8")


def sign_enveloped(element: etree._Element, key: SigningKey) -> etree._Element:
    """`element` signed in place of its ds:Signature placeholder: RSA-SHA256, SHA-256 digest,
    exclusive c14n, referencing its ID; with the organization's key loaded once (`keys.private_key`)."""
    signer = XMLSigner(
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signer.namespaces = {"ds": DS}
    return signer.sign(
        element,
        key=keys.private_key(key),
        cert=[keys.certificate(key.certificate_pem)],
        reference_uri=element.get("ID"),
    )


def build_response(
    subject: Subject, audience: Audience, key: SigningKey, *, now: dt.datetime | None = None
) -> bytes:
    """The signed Response XML for `subject`, for the HTTP-POST binding to `audience.acs_url`."""
    return ResponseBuilder(subject, audience, key, now or dt.datetime.now(dt.UTC)).build()


def post_value(xml: bytes) -> str:
    """The `SAMLResponse` form value (base64, HTTP-POST binding)."""
    return base64.b64encode(xml).decode()
