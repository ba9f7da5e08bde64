"""Independent checks of a SAML Response, for the tests: none of them uses Lockstep's signing code.

* `xmlsec1_check`: the `xmlsec1` command (libxmlsec1, Debian package xmlsec1) verifies the
  assertion's signature with the given certificate only; then the signature must be the
  assertion's own, enveloped (its Reference points at the assertion's ID).
* `onelogin_check`: python3-saml (OneLogin) in strict mode as Microsoft's SP would be
  (entity id `urn:federation:MicrosoftOnline`, the ACS URL): signature, audience, destination,
  recipient, validity window, InResponseTo, schema.
* `schema_errors`: the SAML 2.0 XML schemas (shipped with python3-saml), with lxml and no network.

Each returns a `Verdict`; `assert_valid_everywhere` runs all three.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import onelogin.saml2
from lxml import etree

SP_ENTITY_ID = "urn:federation:MicrosoftOnline"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
SCHEMAS = Path(onelogin.saml2.__file__).parent / "schemas"
PROTOCOL_SCHEMA = "saml-schema-protocol-2.0.xsd"
METADATA_SCHEMA = "saml-schema-metadata-2.0.xsd"
XMLSEC1 = "xmlsec1"
ASSERTION_ID = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"


@dataclass(frozen=True)
class Verdict:
    """One validator's answer: `ok`, or the `reason` it refused; `facts` it read when it accepted."""

    validator: str
    ok: bool
    reason: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.ok


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


# ----- xmlsec1 -----------------------------------------------------------------------------------


def xmlsec1_check(xml: bytes, certificate_pem: str) -> Verdict:
    """`xmlsec1 --verify` with only `certificate_pem` as key (the certificate the document embeds
    is not trusted: `--enabled-key-data` leaves X509Data out); then the signature must sit in the
    assertion and reference it."""
    with tempfile.TemporaryDirectory(prefix="lockstep-xmlsec1-") as folder:
        document, cert = Path(folder, "response.xml"), Path(folder, "cert.pem")
        document.write_bytes(xml)
        cert.write_text(certificate_pem)
        command = [
            XMLSEC1,
            "--verify",
            "--enabled-key-data",
            "rsa",
            "--pubkey-cert-pem",
            str(cert),
            "--id-attr:ID",
            ASSERTION_ID,
            "--enabled-reference-uris",
            "same-doc",
            str(document),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        return Verdict("xmlsec1", False, _last_lines(done.stderr or done.stdout))
    reason = _enveloped_assertion_signature_problem(xml)
    return Verdict("xmlsec1", reason == "", reason)


def _last_lines(text: str, count: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-count:])


def _enveloped_assertion_signature_problem(xml: bytes) -> str:
    """Empty when the only signature is the assertion's own and references that assertion."""
    root = etree.fromstring(xml, _safe_parser())
    signatures = root.findall(".//ds:Signature", NS)
    assertions = root.findall("saml:Assertion", NS)
    if len(signatures) != 1 or len(assertions) != 1:
        return f"expected one assertion with one signature, found {len(assertions)} and {len(signatures)}"
    signature, assertion = signatures[0], assertions[0]
    if signature.getparent() is not assertion:
        return "the signature is not the assertion's own"
    references = signature.findall("ds:SignedInfo/ds:Reference", NS)
    if [ref.get("URI") for ref in references] != ["#" + (assertion.get("ID") or "")]:
        return "the signature does not reference the assertion"
    return ""


# ----- python3-saml (OneLogin), strict ----------------------------------------------------------


def onelogin_settings(issuer: str, acs_url: str, certificate_pem: str) -> Any:
    """Strict SP settings of Microsoft's side: signed assertions wanted, persistent NameID."""
    from onelogin.saml2.settings import OneLogin_Saml2_Settings

    data = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": SP_ENTITY_ID,
            "assertionConsumerService": {
                "url": acs_url,
                "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
            },
            "NameIDFormat": PERSISTENT,
        },
        "idp": {
            "entityId": issuer,
            "singleSignOnService": {
                "url": "https://idp.invalid/sso",
                "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
            },
            "x509cert": certificate_pem,
        },
        "security": {
            "wantAssertionsSigned": True,
            "wantMessagesSigned": False,
            "wantNameId": True,
            "wantAttributeStatement": True,
            "rejectDeprecatedAlgorithm": True,
        },
    }
    return OneLogin_Saml2_Settings(data, sp_validation_only=True)


def _request_data(acs_url: str) -> dict[str, str]:
    """The request python3-saml believes it received: a POST to `acs_url`."""
    url = urlsplit(acs_url)
    return {
        "https": "on" if url.scheme == "https" else "off",
        "http_host": url.netloc,
        "script_name": url.path,
    }


def onelogin_check(
    xml: bytes, *, certificate_pem: str, issuer: str, acs_url: str, in_response_to: str | None
) -> Verdict:
    """python3-saml's `is_valid` in strict mode; `in_response_to` None for an unsolicited response.

    Facts on success: name_id, name_id_format, attributes, issuers, session_index."""
    import base64

    from onelogin.saml2.response import OneLogin_Saml2_Response

    response = OneLogin_Saml2_Response(
        onelogin_settings(issuer, acs_url, certificate_pem), base64.b64encode(xml).decode()
    )
    try:
        response.is_valid(_request_data(acs_url), in_response_to, raise_exceptions=True)
    except Exception as problem:  # python3-saml raises its own errors and plain exceptions
        return Verdict("python3-saml", False, f"{type(problem).__name__}: {problem}")
    facts = {
        "name_id": response.get_nameid(),
        "name_id_format": response.get_nameid_format(),
        "attributes": response.get_attributes(),
        "issuers": response.get_issuers(),
        "session_index": response.get_session_index(),
    }
    return Verdict("python3-saml", True, facts=facts)


# ----- SAML 2.0 XML schemas ---------------------------------------------------------------------


@cache
def _schema(name: str) -> etree.XMLSchema:
    """The schema and its imports, read from python3-saml's copies (never fetched)."""
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name), _safe_parser()))


def schema_check(xml: bytes, schema: str = PROTOCOL_SCHEMA) -> Verdict:
    """Validity against a SAML 2.0 schema (protocol by default; `METADATA_SCHEMA` for metadata)."""
    try:
        document = etree.fromstring(xml, _safe_parser())
    except etree.XMLSyntaxError as problem:
        return Verdict("xsd", False, f"not well-formed: {problem}")
    checker = _schema(schema)
    if checker.validate(document):
        return Verdict("xsd", True)
    return Verdict("xsd", False, "; ".join(f"line {e.line}: {e.message}" for e in checker.error_log))


# ----- all three ---------------------------------------------------------------------------------


def assert_valid_everywhere(
    xml: bytes, *, certificate_pem: str, issuer: str, acs_url: str, in_response_to: str | None
) -> Verdict:
    """All three validators accept `xml`; returns python3-saml's verdict (with the facts)."""
    verdicts = [
        xmlsec1_check(xml, certificate_pem),
        onelogin_check(
            xml,
            certificate_pem=certificate_pem,
            issuer=issuer,
            acs_url=acs_url,
            in_response_to=in_response_to,
        ),
        schema_check(xml),
    ]
    refused = [f"{v.validator}: {v.reason}" for v in verdicts if not v.ok]
    assert not refused, "refused by " + "; ".join(refused)
    return verdicts[1]
