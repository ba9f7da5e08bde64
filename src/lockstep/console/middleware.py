"""Admin session rules applied to every Admin Portal request.

- A console view needs a signed-in administrator (else: the login page), and one who has
  passed the second factor (`session["mfa_passed"]`, else: the MFA step), unless the view is
  marked `public` or `sign_in_step` (see `lockstep.console.access`).
- A read-only administrator's writes (any method but GET/HEAD/OPTIONS) get the 403 page,
  except on views marked `self_service` (their own MFA, logout).
- An administrator who signed in with a one-time password (`must_change_password`) reaches
  nothing but the page that replaces it (and sign-out) until they did.
- Service errors escaping a console view become pages: NotFound -> 404 (objects of other
  organizations look exactly like missing ones), PermissionDenied -> 403.

The idle timeout is Django's: SESSION_COOKIE_AGE with SESSION_SAVE_EVERY_REQUEST, so each
request pushes the server-side expiry forward and an idle session expires in the database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from lockstep.console.access import MFA_PASSED, current_admin, forbidden, not_found
from lockstep.directory.errors import NotFound, PermissionDenied

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _is_console(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.namespace == "console"


def _redirect(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """HTMX requests follow redirects inside the page; tell HTMX to navigate instead."""
    if request.headers.get("HX-Request") == "true":
        navigate = HttpResponse(status=204)
        navigate["HX-Redirect"] = response["Location"]
        return navigate
    return response


class AdminSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if not _is_console(request) or getattr(view_func, "console_public", False):
            return None
        if not request.user.is_authenticated:
            return _redirect(request, redirect_to_login(request.get_full_path()))
        if not request.session.get(MFA_PASSED) and not getattr(view_func, "console_sign_in_step", False):
            return _redirect(request, redirect("console:mfa"))
        if (
            request.session.get(MFA_PASSED)
            and current_admin(request).must_change_password
            and not getattr(view_func, "console_password_step", False)
            and not getattr(view_func, "console_sign_in_step", False)
        ):
            return _redirect(request, redirect("console:own_password"))
        writes = request.method not in SAFE_METHODS or getattr(view_func, "console_write_page", False)
        if (
            writes
            and not current_admin(request).can_write
            and not getattr(view_func, "console_self_service", False)
        ):
            return forbidden(
                request, "Your account is read-only: you can look at everything but change nothing."
            )
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not _is_console(request):
            return None
        if isinstance(exception, NotFound):
            return not_found(request)
        if isinstance(exception, PermissionDenied):
            return forbidden(request, str(exception))
        return None
