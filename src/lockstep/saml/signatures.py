"""Checking Microsoft's signature on a received SAML message, against its SP certificates.

HTTP-Redirect binding: `SigAlg` and `Signature` over the raw query string as received
(`SAMLRequest=..&RelayState=..&SigAlg=..`, the values still URL-encoded), RSA-SHA256 or RSA-SHA1.
HTTP-POST binding: an enveloped XML signature of the message's root element (signxml); the
caller then reads the message from the element signxml says was signed, never from the
document as posted (no signature wrapping).
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree
from signxml import DigestAlgorithm, SignatureConfiguration, SignatureMethod, XMLVerifier
from signxml.exceptions import InvalidInput, SignXMLException

from lockstep.saml.xml_input import RequestRefused

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
HASHES: dict[str, type[hashes.HashAlgorithm]] = {RSA_SHA256: hashes.SHA256, RSA_SHA1: hashes.SHA1}
SIGNED_PARAMETERS = ("SAMLRequest", "SAMLResponse", "RelayState", "SigAlg")
XML_SIGNATURES = SignatureConfiguration(
    signature_methods=frozenset({SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA1}),
    digest_algorithms=frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA1}),
    expect_references=1,
)
TAMPERED = "The signature does not match Microsoft 365's signing certificate: the message was changed or not signed by Microsoft."


def _raw_parameters(query_string: str) -> dict[str, str]:
    """The query's parameters keyed by their decoded names, values exactly as sent (still encoded).

    A name that appears twice once decoded is refused: `SAML%52equest` is `SAMLRequest` to
    Django's `request.GET`, so a second copy could otherwise carry a value nobody signed.
    """
    found: dict[str, str] = {}
    for part in query_string.split("&"):
        if not part:
            continue
        raw_name, _, value = part.partition("=")
        name = unquote_plus(raw_name)
        if name in found:
            raise RequestRefused("malformed", f"The parameter {name} appears twice.")
        found[name] = value
    return found


def redirect_parameters(query_string: str) -> dict[str, str]:
    """The HTTP-Redirect parameters decoded from the same raw query the signature is checked
    over: the only place a redirect's SAMLRequest, RelayState, SigAlg and Signature are read."""
    return {name: unquote_plus(value) for name, value in _raw_parameters(query_string).items()}


def has_redirect_signature(query_string: str) -> bool:
    params = _raw_parameters(query_string)
    return "Signature" in params or "SigAlg" in params


def verify_redirect(query_string: str, certificates: list[str]) -> None:
    """Raises RequestRefused unless one certificate verifies the query's signature."""
    params = _raw_parameters(query_string)
    algorithm = unquote_plus(params.get("SigAlg", ""))
    if algorithm not in HASHES:
        raise RequestRefused("signature", "SigAlg must be RSA-SHA256 or RSA-SHA1.")
    try:
        signature = base64.b64decode(unquote_plus(params.get("Signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise RequestRefused("signature", "Signature is not valid base64.") from None
    signed = "&".join(f"{n}={params[n]}" for n in SIGNED_PARAMETERS if n in params).encode()
    for pem in certificates:
        key = x509.load_pem_x509_certificate(pem.encode()).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(signature, signed, padding.PKCS1v15(), HASHES[algorithm]())
            return
        except InvalidSignature:
            continue
    raise RequestRefused("signature", TAMPERED)


def has_xml_signature(root: etree._Element) -> bool:
    return root.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is not None


def verify_xml(root: etree._Element, certificates: list[str]) -> etree._Element:
    """The element the signature covers, which must be `root` itself; else RequestRefused."""
    for pem in certificates:
        try:
            result = XMLVerifier().verify(root, x509_cert=pem, expect_config=XML_SIGNATURES)
        except (InvalidInput, SignXMLException, ValueError):
            continue
        signed = getattr(result, "signed_xml", None)
        if (
            isinstance(signed, etree._Element)
            and signed.tag == root.tag
            and signed.get("ID") == root.get("ID")
        ):
            return signed
    raise RequestRefused("signature", TAMPERED)
