"""Two-step verification: enrol an authenticator app (QR code, then a code to confirm), the ten
recovery codes (shown once; regenerate), and turning it off (needs the password)."""

from __future__ import annotations

import segno
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import User
from lockstep.directory.services.passwords import verify_user_password
from lockstep.portal import devices, recovery, throttle, totp
from lockstep.portal.client_address import client_address
from lockstep.portal.forms import EnrolForm, PasswordConfirmForm
from lockstep.portal.sessions import current_user, portal_login_required

PENDING_SECRET = "portal_pending_totp_secret"


def _codes_page(request: HttpRequest, user: User, codes: list[str]) -> HttpResponse:
    response = render(request, "portal/mfa/codes.html", {"portal_user": user, "codes": codes})
    response["Cache-Control"] = "no-store"
    return response


def _enrol(request: HttpRequest, user: User) -> HttpResponse:
    secret = request.session.get(PENDING_SECRET)
    if not secret:
        secret = totp.begin_enrolment()
        request.session[PENDING_SECRET] = secret  # only in the session until confirmed
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = totp.confirm_enrolment(user=user, secret=secret, code=form.cleaned_data["code"])
        except ValidationFailed as failed:
            form.show_service_error(failed)
        else:
            del request.session[PENDING_SECRET]
            messages.success(request, "Two-step verification is on.")
            return _codes_page(request, user, codes)
    uri = totp.provisioning_uri(user, secret)
    qr_svg = segno.make(uri, error="m").svg_inline(
        scale=4, dark="#000", light="#fff", omitsize=True, title="QR code for your authenticator app"
    )
    return render(
        request,
        "portal/mfa/enrol.html",
        {"portal_user": user, "form": form, "qr_svg": qr_svg, "secret": secret},
    )


@sensitive_post_parameters()
@never_cache
@portal_login_required
def mfa_setup(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    assert user is not None
    if not user.totp_enabled:
        return _enrol(request, user)
    form = PasswordConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        lock = throttle.password_check_lock(
            user, address=client_address(request), known_device=devices.is_known(request, user)
        )
        if lock is not None:
            form.add_error("password", lock.words)
        elif verify_user_password(user, form.cleaned_data["password"]):
            totp.disable(user=user)
            messages.success(request, "Two-step verification is off; your recovery codes no longer work.")
            return redirect("portal:mfa_setup")
        else:
            throttle.record_failure(
                users=[user], address=client_address(request), organization_id=user.organization_id
            )
            form.add_error("password", "This is not your password.")
    return render(
        request,
        "portal/mfa/status.html",
        {"portal_user": user, "form": form, "recovery_left": recovery.remaining(user)},
    )


@never_cache
@portal_login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    assert user is not None
    if not user.totp_enabled:
        return redirect("portal:mfa_setup")
    if request.method == "POST":
        return _codes_page(request, user, recovery.regenerate(user))
    return render(
        request, "portal/mfa/recovery.html", {"portal_user": user, "recovery_left": recovery.remaining(user)}
    )
