"""The client's address: REMOTE_ADDR, or the hop before the trusted proxies."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from lockstep.portal.client_address import client_address


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        ([], "198.51.100.1", "203.0.113.5", "198.51.100.1"),  # no proxy trusted: header ignored
        (["10.0.0.1"], "198.51.100.1", "203.0.113.5", "198.51.100.1"),  # not from the proxy
        (["10.0.0.1"], "10.0.0.1", "203.0.113.5", "203.0.113.5"),
        (["10.0.0.0/8"], "10.0.0.1", "1.2.3.4, 203.0.113.5, 10.9.9.9", "203.0.113.5"),  # spoofed left hop
        (["10.0.0.0/8", "2001:db8::/32"], "2001:db8::1", "203.0.113.5:4431, 10.1.1.1", "203.0.113.5"),
        (["10.0.0.1"], "10.0.0.1", "", "10.0.0.1"),
        (["10.0.0.0/8"], "10.0.0.2", "10.0.0.3", "10.0.0.3"),  # every hop trusted
    ],
)
def test_client_address(
    settings: object, proxies: list[str], remote: str, forwarded: str, expected: str
) -> None:
    settings.TRUSTED_PROXIES = proxies  # type: ignore[attr-defined]
    request = RequestFactory().get("/portal/login/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def test_throttle_counts_the_forwarded_client(settings: object, db: None) -> None:
    from django.test import Client

    from lockstep.portal.models import SignInThrottle, ThrottleScope

    settings.TRUSTED_PROXIES = ["127.0.0.1"]  # type: ignore[attr-defined]
    Client().post(
        "/portal/login/",
        {"login": "nobody", "password": "Wrong-Guess-1"},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.77",
    )
    assert SignInThrottle.objects.filter(scope=ThrottleScope.SOURCE, key="203.0.113.77").exists()
