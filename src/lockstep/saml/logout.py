"""The LogoutResponse Lockstep answers Microsoft's LogoutRequest with (HTTP-POST binding to the
SP's sign-out location, which for Microsoft is its ACS `login.srf`), signed like an assertion."""

from __future__ import annotations

import datetime as dt

from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner

from lockstep.saml import keys
from lockstep.saml.models import SigningKey
from lockstep.saml.response import DS, NSMAP, SAML, SAMLP, SUCCESS, instant, new_id


def logout_response(
    *, issuer: str, destination: str, in_response_to: str, key: SigningKey, now: dt.datetime | None = None
) -> bytes:
    moment = now or dt.datetime.now(dt.UTC)
    root = etree.Element(
        f"{{{SAMLP}}}LogoutResponse",
        {
            "ID": new_id(),
            "Version": "2.0",
            "IssueInstant": instant(moment),
            "Destination": destination,
            "InResponseTo": in_response_to,
        },
        nsmap=NSMAP,
    )
    etree.SubElement(root, f"{{{SAML}}}Issuer").text = issuer
    root.append(etree.Element(f"{{{DS}}}Signature", {"Id": "placeholder"}, nsmap={"ds": DS}))
    status = etree.SubElement(root, f"{{{SAMLP}}}Status")
    etree.SubElement(status, f"{{{SAMLP}}}StatusCode", {"Value": SUCCESS})
    signer = XMLSigner(
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signer.namespaces = {"ds": DS}
    signed = signer.sign(
        root, key=keys.private_key_pem(key), cert=key.certificate_pem, reference_uri=root.get("ID")
    )
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
