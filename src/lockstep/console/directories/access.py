"""The Admin Portal's session rules for the Microsoft 365 pages.

The console's `AdminSessionMiddleware` enforces its rules for the `console` namespace only; these
pages live in the `directories` namespace, so every view here is wrapped by `portal_view`, which applies the same
rules: a signed-in administrator who passed MFA, read-only administrators get the 403 page on any
write (and on GET of a `write_page`), NotFound -> 404 page, PermissionDenied -> 403 page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotAllowed
from django.shortcuts import redirect

from lockstep.console.access import MFA_PASSED, current_admin, forbidden, not_found
from lockstep.directory.errors import NotFound, PermissionDenied

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

ViewFunc = Callable[..., HttpResponseBase]


def _navigate(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if request.headers.get("HX-Request") == "true":
        navigate = HttpResponse(status=204)
        navigate["HX-Redirect"] = response["Location"]
        return navigate
    return response


def portal_view(*, write_page: bool = False, post_only: bool = False) -> Callable[[ViewFunc], ViewFunc]:
    """Wrap a view with the Admin Portal's rules; `post_only` answers other methods with 405."""

    def decorate(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return _navigate(request, redirect_to_login(request.get_full_path()))
            if not request.session.get(MFA_PASSED):
                return _navigate(request, redirect("console:mfa"))
            if post_only and request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            writes = request.method not in SAFE_METHODS or write_page
            if writes and not current_admin(request).can_write:
                return forbidden(
                    request, "Your account is read-only: you can look at everything but change nothing."
                )
            try:
                return view(request, *args, **kwargs)
            except NotFound:
                return not_found(request)
            except PermissionDenied as denied:
                return forbidden(request, str(denied))

        wrapped.portal_write_page = write_page  # type: ignore[attr-defined]
        wrapped.portal_post_only = post_only  # type: ignore[attr-defined]
        return wrapped

    return decorate
