"""Sign-in: password, then the second factor (TOTP), or enrolment when the organization requires it."""

from __future__ import annotations

import segno
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from lockstep.console import devices, throttle
from lockstep.console.access import (
    MFA_PASSED,
    PENDING_TOTP_SECRET,
    current_admin,
    public,
    self_service,
    sign_in_step,
)
from lockstep.console.admin_backend import CHOICES_ATTRIBUTE
from lockstep.console.forms import CodeForm, LoginForm
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.form_errors import show_service_error
from lockstep.directory.models import Administrator
from lockstep.directory.services import admin_recovery, admins

NEXT_SESSION_KEY = "console_next"


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("console:index")


def _second_factor_needed(admin: Administrator) -> bool:
    return admin.totp_enabled or admin.organization.require_admin_mfa


def _finish_sign_in(request: HttpRequest, admin: Administrator) -> HttpResponse:
    request.session.cycle_key()
    request.session[MFA_PASSED] = True
    response = redirect(_safe_next(request, request.session.pop(NEXT_SESSION_KEY, None)))
    devices.remember(request, response, admin)
    return response


def _known_browser(request: HttpRequest, email: str) -> bool:
    """This browser completed a sign-in as the administrator with this email (and password)."""
    known = devices.known_entries(request)
    if not known:
        return False
    return any(
        devices.is_known(request, admin) for admin in Administrator.objects.filter(email__iexact=email)
    )


@sensitive_post_parameters("password")
@public
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.session.get(MFA_PASSED):
        return redirect(_safe_next(request, request.GET.get("next")))
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        source = throttle.source_of(request)
        if throttle.is_blocked(account=email, source=source, known_browser=_known_browser(request, email)):
            form.add_error(None, throttle.BLOCKED_MESSAGE)
            status = 429
        else:
            admin = authenticate(
                request,
                username=email,
                password=form.cleaned_data["password"],
                organization=form.cleaned_data["organization"],
            )
            choices = getattr(request, CHOICES_ATTRIBUTE, None)
            if not isinstance(admin, Administrator) and choices:
                # the password fits several organizations: the person proved it for each one listed
                organizations = [(a.organization.slug, a.organization.name) for a in choices]
                return render(
                    request,
                    "console/auth/login.html",
                    {"form": form, "next": request.POST.get("next", ""), "organizations": organizations},
                )
            if not isinstance(admin, Administrator):
                throttle.record_failure(account=email, source=source, step="password")
                form.add_error(None, "The email or password is not right.")
            else:
                next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
                login(request, admin)
                request.session[NEXT_SESSION_KEY] = next_url
                if _second_factor_needed(admin):
                    request.session[MFA_PASSED] = False
                    return redirect("console:mfa")
                throttle.record_success(account=email)
                return _finish_sign_in(request, admin)
    return render(
        request,
        "console/auth/login.html",
        {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")},
        status=status,
    )


@sensitive_post_parameters("code")
@sign_in_step
@never_cache
def mfa_view(request: HttpRequest) -> HttpResponse:
    """The second factor: a code from the authenticator app."""
    if request.session.get(MFA_PASSED):
        return redirect("console:index")
    admin = current_admin(request)
    if not admin.totp_enabled:
        if admin.organization.require_admin_mfa:
            return redirect("console:mfa_enrol")
        return _finish_sign_in(request, admin)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        source = throttle.source_of(request)
        if throttle.is_blocked(
            account=admin.email, source=source, known_browser=devices.is_known(request, admin)
        ):
            logout(request)
            response = render(
                request,
                "console/auth/login.html",
                {"form": LoginForm(), "blocked": throttle.BLOCKED_MESSAGE},
                status=429,
            )
            return response
        code = form.cleaned_data["code"]
        if admins.verify_totp(admin=admin, code=code) or admin_recovery.consume(admin, code):
            throttle.record_success(account=admin.email)
            return _finish_sign_in(request, admin)
        throttle.record_failure(account=admin.email, source=source, step="totp")
        form.add_error("code", "That code is not right (or was already used). Try the next one.")
    return render(request, "console/auth/mfa.html", {"form": form})


@sign_in_step
@self_service
@never_cache
def mfa_enrol_view(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: forced at sign-in, or from Settings > My account."""
    admin = current_admin(request)
    signed_in = bool(request.session.get(MFA_PASSED))
    forced = not signed_in and not admin.totp_enabled and admin.organization.require_admin_mfa
    if not signed_in and not forced:
        return redirect("console:mfa")
    secret = request.session.get(PENDING_TOTP_SECRET)
    if not secret:
        secret = admins.begin_totp_enrolment(admin)
        request.session[PENDING_TOTP_SECRET] = secret  # only in the session until confirmed
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            admins.confirm_totp_enrolment(admin=admin, secret=secret, code=form.cleaned_data["code"])
        except ValidationFailed as failed:
            throttle.record_failure(account=admin.email, source=throttle.source_of(request), step="enrol")
            show_service_error(form, failed)
        else:
            update_session_auth_hash(request, admin)  # this session goes on; the admin's others end
            del request.session[PENDING_TOTP_SECRET]
            codes = admin_recovery.regenerate(admin)
            if forced:
                throttle.record_success(account=admin.email)
                finished = _finish_sign_in(request, admin)
                return show_recovery_codes(request, codes, finished["Location"], carry=finished)
            return show_recovery_codes(request, codes, f"{reverse('console:settings')}?mfa=enabled")
    uri = admins.provisioning_uri(admin, secret)
    qr_svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", omitsize=True)
    return render(
        request,
        "console/auth/enrol.html",
        {"form": form, "qr_svg": qr_svg, "secret": secret, "forced": forced},
    )


def show_recovery_codes(
    request: HttpRequest, codes: list[str], continue_url: str, *, carry: HttpResponse | None = None
) -> HttpResponse:
    """The recovery codes, shown this once (never cached); `carry` lends its cookies."""
    response = render(
        request, "console/auth/recovery_codes.html", {"codes": codes, "continue_url": continue_url}
    )
    if carry is not None:
        response.cookies.update(carry.cookies)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@self_service
def recovery_codes_view(request: HttpRequest) -> HttpResponse:
    """Settings > My account: ten new codes (the old ones stop working)."""
    admin = current_admin(request)
    if not admin.totp_enabled:
        return redirect("console:settings")
    return show_recovery_codes(request, admin_recovery.regenerate(admin), reverse("console:settings"))


@require_POST
@public
@self_service
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("console:login")
