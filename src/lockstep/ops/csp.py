"""The Content-Security-Policy and how a view relaxes it for one response.

A view that needs more (say the API docs page) sets directives on its response:

    from lockstep.ops.csp import relax
    relax(response, img_src="'self' data: https://example.org")

or decorates the view with `@csp_relaxed(...)`. Only the named directives change.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpResponse

DEFAULT_POLICY: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "object-src": "'none'",
}

PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
    "payment=(), usb=()"
)

RESPONSE_ATTRIBUTE = "csp_update"


def _directive(name: str) -> str:
    return name.replace("_", "-")


def render(policy: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def policy_for(response: HttpResponse) -> str:
    """The default policy, with the directives the view set on `response.csp_update` replaced."""
    changes: dict[str, str] = getattr(response, RESPONSE_ATTRIBUTE, None) or {}
    return render({**DEFAULT_POLICY, **{_directive(k): v for k, v in changes.items()}})


def relax(response: HttpResponse, **directives: str) -> HttpResponse:
    """Replace some directives for this one response (keyword `img_src` means `img-src`)."""
    current: dict[str, str] = dict(getattr(response, RESPONSE_ATTRIBUTE, None) or {})
    current.update(directives)
    setattr(response, RESPONSE_ATTRIBUTE, current)
    return response


def csp_relaxed(**directives: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """View decorator form of `relax`."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> HttpResponse:
            return relax(view(*args, **kwargs), **directives)

        return wrapped

    return decorator
