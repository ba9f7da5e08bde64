"""The limits on received SAML input, pinned at their edges (pure functions, no HTTP)."""

from __future__ import annotations

import base64
import zlib

import pytest

from lockstep.saml.xml_input import (
    MAX_ENCODED_CHARS,
    MAX_XML_BYTES,
    RequestRefused,
    decode_post,
    decode_redirect,
    inflate,
    parse,
)


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data)[2:-4]


def test_inflating_stops_at_the_cap() -> None:
    assert len(inflate(_deflate(b"a" * MAX_XML_BYTES))) == MAX_XML_BYTES
    with pytest.raises(RequestRefused) as beyond:
        inflate(_deflate(b"a" * (MAX_XML_BYTES + 1)))
    assert beyond.value.code == "too_large"


def test_truncated_or_foreign_deflate_data_is_refused() -> None:
    with pytest.raises(RequestRefused, match="DEFLATE"):
        inflate(_deflate(b"<a/>" * 50)[:-3])
    with pytest.raises(RequestRefused, match="DEFLATE"):
        inflate(b"not deflate at all")


def test_the_encoded_size_is_checked_before_decoding() -> None:
    at_limit = base64.b64encode(b"a" * (MAX_ENCODED_CHARS // 4 * 3)).decode()
    assert len(at_limit) == MAX_ENCODED_CHARS
    assert len(decode_post(at_limit)) == MAX_ENCODED_CHARS // 4 * 3
    with pytest.raises(RequestRefused) as beyond:
        decode_redirect("!" * (MAX_ENCODED_CHARS + 1))  # not even base64: refused for its size first
    assert beyond.value.code == "too_large"


def test_parse_refuses_dtds_entities_and_broken_xml() -> None:
    assert parse(b"<a><b>x</b></a>").tag == "a"
    for hostile in (
        b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
        b'<!DOCTYPE a SYSTEM "http://evil.example/a.dtd"><a/>',
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><a/>',
    ):
        with pytest.raises(RequestRefused) as refused:
            parse(hostile)
        assert refused.value.code == "dtd"
    with pytest.raises(RequestRefused, match="well-formed"):
        parse(b"<a>")
    with pytest.raises(RequestRefused) as large:
        parse(b"<a>" + b"x" * MAX_XML_BYTES + b"</a>")
    assert large.value.code == "too_large"
