"""Microsoft's SP signing certificates, read from its SP metadata (`endpoints.sp_metadata_url`).

Fetched with a short timeout and a size cap, parsed safely, cached for an hour (a failure for
half a minute, so an outage does not make every sign-in wait for the timeout). `refresh=True`
fetches again (a signature that fails with a cached certificate may be one Microsoft made with a
newly rolled key), but at most once per `REFRESH_SECONDS`: a bad signature is free to send.
"""

from __future__ import annotations

import hashlib
import logging
import ssl

import httpx
from django.conf import settings
from django.core.cache import cache
from lxml import etree

from lockstep.m365.models import Directory
from lockstep.saml.endpoints import SP_ENTITY_ID, sp_metadata_url
from lockstep.saml.xml_input import MAX_XML_BYTES, RequestRefused, parse

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0
CACHE_SECONDS = 3600
FAILURE_CACHE_SECONDS = 30
REFRESH_SECONDS = 300  # at most one forced refetch per metadata URL this long (anyone can ask)
MAX_METADATA_BYTES = 4 * MAX_XML_BYTES
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
_SIGNING_CERTS = "md:SPSSODescriptor/md:KeyDescriptor[not(@use) or @use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate"


def _ssl_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.TRUSTED_CA_FILE:
        context.load_verify_locations(cafile=str(settings.TRUSTED_CA_FILE))
    return context


def _download(url: str) -> bytes:
    with (
        httpx.Client(verify=_ssl_context(), timeout=TIMEOUT_SECONDS, follow_redirects=False) as client,
        client.stream("GET", url) as response,
    ):
        response.raise_for_status()
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_METADATA_BYTES:
                raise ValueError(f"SP metadata larger than {MAX_METADATA_BYTES} bytes")
        return body


def _pem(b64: str) -> str:
    body = "".join(b64.split())
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def certificates_in(metadata: bytes) -> list[str]:
    """The PEM signing certificates of the `urn:federation:MicrosoftOnline` SP in `metadata`."""
    root = parse(metadata)
    entities = (
        [root] if root.tag == f"{{{MD}}}EntityDescriptor" else root.findall(f"{{{MD}}}EntityDescriptor")
    )
    found: list[str] = []
    for entity in entities:
        if entity.get("entityID") != SP_ENTITY_ID:
            continue
        for node in entity.xpath(_SIGNING_CERTS, namespaces={"md": MD, "ds": DS}):
            if isinstance(node, etree._Element) and (node.text or "").strip():
                found.append(_pem(node.text or ""))
    return found


def _cache_key(url: str) -> str:
    return "saml:sp-certs:" + hashlib.sha256(url.encode()).hexdigest()


def sp_certificates(directory: Directory, *, refresh: bool = False) -> list[str]:
    """Microsoft's SP signing certificates for the directory's cloud; [] when unavailable."""
    url = sp_metadata_url(directory)
    key = _cache_key(url)
    if refresh and not cache.add(key + ":refreshed", 1, REFRESH_SECONDS):
        refresh = False  # refetched recently: a bad signature cannot force a download every time
    if not refresh:
        cached = cache.get(key)
        if isinstance(cached, list):
            return [str(c) for c in cached]
    try:
        found = certificates_in(_download(url))
    except (httpx.HTTPError, ValueError, RequestRefused, OSError) as problem:
        logger.warning("SAML SP metadata %s unavailable: %s", url, problem)
        cache.set(key, [], FAILURE_CACHE_SECONDS)
        return []
    cache.set(key, found, CACHE_SECONDS if found else FAILURE_CACHE_SECONDS)
    return found
