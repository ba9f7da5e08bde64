"""Everything Lockstep receives as SAML XML goes through here: size limits before any decoding,
raw DEFLATE inflated with an output cap, and lxml parsing that resolves no entity, reads no DTD
and touches no network. A document with a DOCTYPE is refused outright (SAML never needs one,
and it is how entity expansion and external-entity attacks arrive)."""

from __future__ import annotations

import base64
import binascii
import zlib

from lxml import etree

MAX_ENCODED_CHARS = 32 * 1024  # a base64 SAMLRequest/SAMLResponse parameter, before decoding
MAX_XML_BYTES = 64 * 1024  # the decoded (or inflated) XML


class RequestRefused(Exception):
    """A SAML message Lockstep will not act on; `words` says why in plain language."""

    def __init__(self, code: str, words: str) -> None:
        super().__init__(words)
        self.code = code
        self.words = words


def _base64(value: str, field: str) -> bytes:
    if len(value) > MAX_ENCODED_CHARS:
        raise RequestRefused(
            "too_large", f"{field} is longer than {MAX_ENCODED_CHARS} characters: it is refused unread."
        )
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise RequestRefused("malformed", f"{field} is not valid base64.") from None


def inflate(data: bytes, *, limit: int = MAX_XML_BYTES) -> bytes:
    """Raw DEFLATE (HTTP-Redirect binding), stopping as soon as the output passes `limit`."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise RequestRefused("malformed", "SAMLRequest is not valid DEFLATE data.") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise RequestRefused("too_large", f"The inflated message is larger than {limit} bytes.")
    if not inflater.eof:
        raise RequestRefused("malformed", "SAMLRequest is truncated DEFLATE data.")
    return out


def decode_redirect(value: str, field: str = "SAMLRequest") -> bytes:
    """HTTP-Redirect binding: base64 of raw DEFLATE."""
    return inflate(_base64(value, field))


def decode_post(value: str, field: str = "SAMLRequest") -> bytes:
    """HTTP-POST binding: base64 of the XML."""
    data = _base64(value, field)
    if len(data) > MAX_XML_BYTES:
        raise RequestRefused("too_large", f"The decoded message is larger than {MAX_XML_BYTES} bytes.")
    return data


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )


def parse(data: bytes) -> etree._Element:
    """The root element of a safe document; DOCTYPE, entities and non-XML are refused."""
    if len(data) > MAX_XML_BYTES:
        raise RequestRefused("too_large", f"The message is larger than {MAX_XML_BYTES} bytes.")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError:
        raise RequestRefused("malformed", "The message is not well-formed XML.") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise RequestRefused("dtd", "The message has a DOCTYPE (DTD): SAML messages never need one.")
    if any(isinstance(node, etree._Entity) for node in root.iter()):
        raise RequestRefused("dtd", "The message uses XML entities.")
    return root
