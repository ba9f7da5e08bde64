"""An independent check of an assertion Lockstep built: libxmlsec1 (python-xmlsec), not signxml
that signed it, verifies the signature with the certificate Microsoft 365 is given."""

from __future__ import annotations

import xmlsec
from lxml import etree

from lockstep.saml.endpoints import SP_ENTITY_ID
from lockstep.saml.response import SAML

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _text(parent: etree._Element, path: str) -> str:
    found = parent.find(path, {"saml": SAML})
    return (found.text or "").strip() if found is not None else ""


def assertion_problems(
    xml: bytes, certificate_pem: str, *, issuer: str, name_id: str, upn: str, acs_url: str
) -> list[str]:
    """Plain sentences: what is wrong with the signed assertion in `xml` ([] when nothing)."""
    root = etree.fromstring(xml, _PARSER)
    assertion = root.find(f"{{{SAML}}}Assertion")
    if assertion is None:
        return ["The response holds no assertion."]
    problems = []
    xmlsec.tree.add_ids(assertion, ["ID"])
    signature = xmlsec.tree.find_node(assertion, xmlsec.constants.NodeSignature)
    if signature is None:
        problems.append("The assertion is not signed.")
    else:
        context = xmlsec.SignatureContext()
        context.key = xmlsec.Key.from_memory(certificate_pem.encode(), xmlsec.constants.KeyDataFormatCertPem)
        try:
            context.verify(signature)
        except xmlsec.Error:
            problems.append("The assertion's signature does not verify with the signing certificate.")
    if _text(assertion, "saml:Issuer") != issuer:
        problems.append("The assertion's Issuer is not the domain's issuer URI.")
    if _text(assertion, "saml:Conditions/saml:AudienceRestriction/saml:Audience") != SP_ENTITY_ID:
        problems.append(f"The assertion's Audience is not {SP_ENTITY_ID}.")
    confirmation = assertion.find(
        "saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", {"saml": SAML}
    )
    if confirmation is None or confirmation.get("Recipient") != acs_url or root.get("Destination") != acs_url:
        problems.append(
            "The response is not addressed to Microsoft's sign-in endpoint (Recipient, Destination)."
        )
    if _text(assertion, "saml:Subject/saml:NameID") != name_id:
        problems.append("The assertion's NameID is not the user's immutable id.")
    emails = [
        (v.text or "").strip()
        for v in assertion.iterfind(
            "saml:AttributeStatement/saml:Attribute[@Name='IDPEmail']/saml:AttributeValue", {"saml": SAML}
        )
    ]
    if emails != [upn]:
        problems.append("The assertion's IDPEmail is not the user's UPN.")
    return problems
