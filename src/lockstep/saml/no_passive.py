"""The Response to an AuthnRequest with IsPassive="true" when the user would have to sign in:
no assertion, status Responder with second-level NoPassive (SAML core 3.2.2.2, 3.4.1), signed
like every Response, posted to Microsoft's ACS. Microsoft then handles the failed passive
sign-in itself; Lockstep never shows a page it was asked not to show."""

from __future__ import annotations

import datetime as dt

from lxml import etree

from lockstep.saml.models import SigningKey
from lockstep.saml.response import DS, NSMAP, SAML, SAMLP, instant, new_id, sign_enveloped

RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
NO_PASSIVE = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"


def no_passive_response(
    *, issuer: str, destination: str, in_response_to: str, key: SigningKey, now: dt.datetime | None = None
) -> bytes:
    root = etree.Element(
        f"{{{SAMLP}}}Response",
        {
            "ID": new_id(),
            "Version": "2.0",
            "IssueInstant": instant(now or dt.datetime.now(dt.UTC)),
            "Destination": destination,
            "InResponseTo": in_response_to,
        },
        nsmap=NSMAP,
    )
    etree.SubElement(root, f"{{{SAML}}}Issuer").text = issuer
    root.append(etree.Element(f"{{{DS}}}Signature", {"Id": "placeholder"}, nsmap={"ds": DS}))
    status = etree.SubElement(root, f"{{{SAMLP}}}Status")
    top = etree.SubElement(status, f"{{{SAMLP}}}StatusCode", {"Value": RESPONDER})
    etree.SubElement(top, f"{{{SAMLP}}}StatusCode", {"Value": NO_PASSIVE})
    etree.SubElement(status, f"{{{SAMLP}}}StatusMessage").text = "The user is not signed in to Lockstep."
    return etree.tostring(sign_enveloped(root, key), xml_declaration=True, encoding="UTF-8")
