"""User Portal sign-in: username or company email and password, then the TOTP step when the
user enrolled an authenticator app; sign-out."""

from __future__ import annotations

import re
import time

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from lockstep.directory import crypto
from lockstep.directory.models import User, UserState
from lockstep.portal import devices, recovery, sessions, signin, throttle, totp
from lockstep.portal.client_address import client_address
from lockstep.portal.forms import CodeForm, LoginForm

PENDING_USER = "portal_pending_user_id"
PENDING_FINGERPRINT = "portal_pending_fingerprint"
PENDING_AT = "portal_pending_at"
PENDING_NEXT = "portal_pending_next"
PENDING_SECONDS = 300  # the TOTP step must follow the password within five minutes


AUTHN_AT = "portal_authn_at"  # when the user signed in (the SAML AuthnInstant)
# The IdP's continuation (`/saml/<org>/<domain>/sso?c=...`) after signing in for Microsoft 365.
SAML_CONTINUATION = re.compile(r"^/saml/[-a-zA-Z0-9_]+/[a-z0-9.-]+/sso\?c=[-A-Za-z0-9_:.%]+$")


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """`next` only ever leads to a User Portal page of this site, or back to the SAML sign-in."""
    if (
        candidate
        and (candidate.startswith("/portal/") or SAML_CONTINUATION.match(candidate))
        and "\\" not in candidate
        and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()})
        and not candidate.startswith((reverse("portal:login"), reverse("portal:logout")))
    ):
        return candidate
    return reverse("portal:home")


def _finish(request: HttpRequest, user: User, next_url: str, *, mfa_passed: bool) -> HttpResponse:
    """Signed in; `mfa_passed` only when the second step (TOTP or a recovery code) passed: the
    Microsoft 365 MFA claim depends on it."""
    held = request.session.pop(PENDING_PASSWORD, None)
    if held:  # the second factor passed: now the typed password may go to Microsoft 365
        signin.present_password(user, crypto.decrypt(str(held), context=_password_context(user)))
    for key in (PENDING_USER, PENDING_FINGERPRINT, PENDING_AT, PENDING_NEXT):
        request.session.pop(key, None)
    sessions.sign_in(request, user, mfa_passed=mfa_passed)
    request.session[AUTHN_AT] = time.time()
    throttle.record_success(user)
    response = redirect(next_url)
    devices.remember(request, response, user)
    return response


PENDING_PASSWORD = "portal_pending_password"


def _password_context(user: User) -> str:
    return f"portal-mfa:{user.pk}:password"


def _login_page(
    request: HttpRequest, form: LoginForm, *, status: int = 200, organizations: list[object] | None = None
) -> HttpResponse:
    return render(
        request,
        "portal/auth/login.html",
        {
            "form": form,
            "next": request.POST.get("next") or request.GET.get("next", ""),
            "organizations": organizations or [],
        },
        status=status,
    )


@sensitive_post_parameters("password")
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    if sessions.current_user(request) is not None:
        return redirect(safe_next(request, request.GET.get("next")))
    form = LoginForm(request.POST or None, initial={"organization": request.GET.get("org", "")})
    if request.method != "POST" or not form.is_valid():
        return _login_page(request, form)
    attempt = signin.authenticate(
        login=form.cleaned_data["login"],
        password=form.cleaned_data["password"],
        organization_slug=form.cleaned_data["organization"].strip(),
        address=client_address(request),
        known_devices=devices.known_entries(request),
    )
    if attempt.outcome is signin.Outcome.SIGNED_IN and attempt.user is not None:
        user = attempt.user
        next_url = safe_next(request, request.POST.get("next"))
        if not user.totp_enabled:
            return _finish(request, user, next_url, mfa_passed=False)
        request.session.cycle_key()
        request.session[PENDING_USER] = user.pk
        request.session[PENDING_FINGERPRINT] = sessions.fingerprint(user)
        request.session[PENDING_AT] = time.time()
        request.session[PENDING_NEXT] = next_url
        # Encrypted in the session until the code step passes; a password alone sends nothing.
        request.session[PENDING_PASSWORD] = crypto.encrypt(
            form.cleaned_data["password"], context=_password_context(user)
        )
        return redirect("portal:mfa")
    form.add_error(None, attempt.words)
    if attempt.outcome is signin.Outcome.LOCKED:
        return _login_page(request, form, status=429)
    return _login_page(request, form, organizations=list(attempt.organizations))


def _pending_user(request: HttpRequest) -> User | None:
    user_id = request.session.get(PENDING_USER)
    started = float(request.session.get(PENDING_AT, 0))
    if user_id is None or time.time() - started > PENDING_SECONDS:
        return None
    user = User.objects.select_related("organization").filter(pk=user_id).first()
    if (
        user is None
        or user.state != UserState.ACTIVE
        or not user.totp_enabled
        or request.session.get(PENDING_FINGERPRINT) != sessions.fingerprint(user)
    ):
        return None
    return user


@sensitive_post_parameters("code")
@never_cache
def mfa_view(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the authenticator app, or a one-time recovery code."""
    user = _pending_user(request)
    if user is None:
        sessions.sign_out(request)
        return redirect("portal:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        address = client_address(request)
        known = devices.is_known(request, user)
        lock = (None if known else throttle.source_lock(address)) or throttle.account_lock(
            user, known_device=known
        )
        if lock is not None:
            sessions.sign_out(request)
            login_form = LoginForm()
            login_form.add_error(None, lock.words)
            return _login_page(request, login_form, status=429)
        code = form.cleaned_data["code"]
        if totp.verify(user=user, code=code):
            return _finish(
                request,
                user,
                str(request.session.get(PENDING_NEXT, "")) or reverse("portal:home"),
                mfa_passed=True,
            )
        if recovery.consume(user, code):
            left = recovery.remaining(user)
            messages.warning(
                request,
                f"You signed in with a recovery code; {left} left. "
                "Each works once: make new ones under Two-step verification.",
            )
            return _finish(
                request,
                user,
                str(request.session.get(PENDING_NEXT, "")) or reverse("portal:home"),
                mfa_passed=True,
            )
        throttle.record_failure(users=[user], address=address, organization_id=user.organization_id)
        form.add_error("code", "That code is not right (or was already used). Try the next one.")
    return render(request, "portal/auth/mfa.html", {"form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    sessions.sign_out(request)
    messages.info(request, "You are signed out.")
    return redirect("portal:login")
