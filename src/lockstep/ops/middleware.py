"""Request metrics, request context and security headers."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from lockstep.ops import csp
from lockstep.ops.context import current_request, current_request_id, request_id_for
from lockstep.ops.metrics import KNOWN_METHODS, REQUEST_LATENCY, REQUESTS
from lockstep.portal.client_address import from_trusted_proxy


def view_label(request: HttpRequest, response: HttpResponse) -> str:
    """A bounded label for the request: the resolved route name, never the raw path."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "<unresolved>" if response.status_code == 404 else "<other>"
    return match.view_name or "<unnamed>"


class RequestMetricsMiddleware:
    """Counts requests and their latency by route name, method and status; sets the request id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        id_token = current_request_id.set(request_id)
        request_token = current_request.set(request)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(id_token)
            current_request.reset(request_token)
        elapsed = time.perf_counter() - started
        method = request.method if request.method in KNOWN_METHODS else "OTHER"
        view = view_label(request, response)
        REQUESTS.labels(view=view, method=method, status=str(response.status_code)).inc()
        REQUEST_LATENCY.labels(view=view, method=method).observe(elapsed)
        response.headers.setdefault("X-Request-ID", request_id)
        return response


class ContentSecurityPolicyMiddleware:
    """Content-Security-Policy on HTML responses; Permissions-Policy and COOP on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        content_type = response.headers.get("Content-Type", "")
        if content_type.startswith("text/html") and "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = csp.policy_for(response)
        response.headers.setdefault("Permissions-Policy", csp.PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response


class TrustedProxySchemeMiddleware:
    """`request.is_secure()` believes X-Forwarded-Proto only from LOCKSTEP_TRUSTED_PROXIES.

    Django's SECURE_PROXY_SSL_HEADER would believe the header from anyone who can reach the
    port; here the header counts only when the connection comes from a trusted proxy, and it
    then sets the WSGI scheme Django reads (so HSTS, secure redirects and CSRF's origin check
    all see the scheme the client really used)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        forwarded = str(request.META.get("HTTP_X_FORWARDED_PROTO", "")).split(",")[0].strip().lower()
        if forwarded in ("http", "https") and from_trusted_proxy(request):
            request.META["wsgi.url_scheme"] = forwarded
        return self.get_response(request)
