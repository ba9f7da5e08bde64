"""The client's real address: REMOTE_ADDR, or behind trusted proxies the X-Forwarded-For hop
just before them (SPEC 4: throttling per source must count the person, not the proxy).

`settings.TRUSTED_PROXIES` lists addresses or networks (CIDR). Only when REMOTE_ADDR is one of
them is X-Forwarded-For read, from the right: each hop a trusted proxy added is skipped, and the
first hop that is not a trusted proxy is the client. Hops further left were written by the
client itself and are never believed.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    parsed = _parse(address)
    return parsed is not None and any(parsed in network for network in networks)


def client_address(request: HttpRequest) -> str:
    remote = str(request.META.get("REMOTE_ADDR") or "unknown")
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not _trusted(remote, networks):
        return remote
    hops = [h.strip() for h in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            parsed = _parse(hop)
            return str(parsed) if parsed is not None else hop[:100]
    # Every hop is a trusted proxy (a client inside the proxies' network), or none was sent.
    return str(_parse(hops[0]) or remote) if hops else remote


def from_trusted_proxy(request: HttpRequest) -> bool:
    """The connection comes from one of LOCKSTEP_TRUSTED_PROXIES (its headers may be believed)."""
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    return bool(networks) and _trusted(str(request.META.get("REMOTE_ADDR") or ""), networks)
