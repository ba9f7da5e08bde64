"""The pages an emailed link opens (activation, password reset) and the forgotten-password form.

Neither page signs the user in: they set a password, then sign in with it (the sign-in is what
sends the password to Microsoft 365, SPEC 3). The forgotten-password form answers the same
page, after the same work, whether or not an account matches (no enumeration).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from lockstep.directory.actors import Actor
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import User, UserState
from lockstep.directory.password_policy import describe_policy
from lockstep.directory.services import passwords, users
from lockstep.portal.models import EmailedLink, LinkPurpose
from lockstep.portal.services import emails, links

FORGOT_MATCHES = 5  # accounts one request may email (the same login in several organizations)
FORGOT_QUIET_SECONDS = 60  # one reset email per account per minute, whoever asks


class SetPasswordForm(forms.Form):
    password = forms.CharField(label="New password", strip=False, max_length=256, widget=forms.PasswordInput)
    password_again = forms.CharField(
        label="New password, again", strip=False, max_length=256, widget=forms.PasswordInput
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name in ("password", "password_again"):
            self.fields[name].widget.attrs["autocomplete"] = "new-password"

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        first, second = cleaned.get("password"), cleaned.get("password_again")
        if first and second and first != second:
            self.add_error("password_again", "The two passwords differ: type the same password twice.")
        return cleaned


class ForgotForm(forms.Form):
    login = forms.CharField(label="Username or company email", max_length=254)
    organization = forms.CharField(required=False, max_length=60, widget=forms.HiddenInput)

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["login"].widget.attrs["autocomplete"] = "username"


PAGES = {
    LinkPurpose.ACTIVATION: {
        "template": "portal/activate.html",
        "how": "activation",
        "done": "Your password is set. Sign in with it to finish: that also sends it to Microsoft 365.",
    },
    LinkPurpose.PASSWORD_RESET: {
        "template": "portal/reset.html",
        "how": "reset",
        "done": "Your password is changed. Sign in with the new password: that also sends it to Microsoft 365.",
    },
}


def sign_in_url(slug: str = "") -> str:
    return f"{settings.PORTAL_LOGIN_PATH}?{urlencode({'org': slug})}" if slug else settings.PORTAL_LOGIN_PATH


def _refused(request: HttpRequest, purpose: LinkPurpose, refusal: links.LinkRefused) -> HttpResponse:
    slug = refusal.link.user.organization.slug if refusal.link is not None else ""
    context = {
        "refusal": refusal,
        "activation": purpose == LinkPurpose.ACTIVATION,
        "sign_in_url": sign_in_url(slug),
        "forgot_url": reverse("portal:forgot") + (f"?{urlencode({'org': slug})}" if slug else ""),
    }
    status = 404 if refusal.reason == "unknown" else 410
    return render(request, "portal/link_refused.html", context, status=status)


def _set_password(request: HttpRequest, token: str, purpose: LinkPurpose) -> HttpResponse:
    page = PAGES[purpose]
    try:
        link = links.peek(token, purpose)
    except links.LinkRefused as refusal:
        return _refused(request, purpose, refusal)
    person = link.user
    form = SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():  # the link is used only if the password is set
                links.consume(token, purpose)
                users.set_password(
                    actor=Actor.for_user(person),
                    user_id=person.pk,
                    password=form.cleaned_data["password"],
                    how=page["how"],
                )
        except links.LinkRefused as refusal:
            return _refused(request, purpose, refusal)
        except ValidationFailed as failed:
            for field, problems in failed.errors.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        else:
            messages.success(request, page["done"])
            return redirect(sign_in_url(person.organization.slug))
    rules = describe_policy(passwords.policy_for(person.organization))
    context = {
        "form": form,
        "person": person,
        "organization": person.organization,
        "rules": rules,
        "link": link,
    }
    return render(request, page["template"], context)


@sensitive_post_parameters("password", "password_again")
@never_cache
@require_http_methods(["GET", "POST"])
def activate(request: HttpRequest, token: str) -> HttpResponse:
    return _set_password(request, token, LinkPurpose.ACTIVATION)


@sensitive_post_parameters("password", "password_again")
@never_cache
@require_http_methods(["GET", "POST"])
def reset(request: HttpRequest, token: str) -> HttpResponse:
    return _set_password(request, token, LinkPurpose.PASSWORD_RESET)


def _accounts(login: str, slug: str) -> list[User]:
    value = login.strip()
    matching = User.objects.select_related("organization").filter(
        Q(username__iexact=value) | Q(email=value.lower()), state=UserState.ACTIVE
    )
    if slug:
        matching = matching.filter(organization__slug=slug)
    return list(matching.order_by("pk")[:FORGOT_MATCHES])


def _send_reset(user: User) -> None:
    quiet_since = timezone.now() - timedelta(seconds=FORGOT_QUIET_SECONDS)
    recent = EmailedLink.objects.filter(
        user=user, purpose=LinkPurpose.PASSWORD_RESET, directory_id=None, created_at__gt=quiet_since
    )
    if recent.exists():  # someone is asking again and again: the email already sent is enough
        return
    token, expires_at = links.issue_link(user=user, purpose=LinkPurpose.PASSWORD_RESET)
    emails.send_password_reset_email(
        user, links.url_for(token, LinkPurpose.PASSWORD_RESET), expires_at, also_alternate=True
    )


@require_http_methods(["GET", "POST"])
def forgot(request: HttpRequest) -> HttpResponse:
    slug = request.GET.get("org", "") or request.POST.get("organization", "")
    form = ForgotForm(request.POST or None, initial={"organization": slug})
    if request.method == "POST" and form.is_valid():
        # The same work whether or not an account matches: the token is drawn and hashed either way.
        hashlib.sha256(secrets.token_urlsafe(32).encode()).hexdigest()
        with transaction.atomic():
            for user in _accounts(form.cleaned_data["login"], form.cleaned_data["organization"]):
                _send_reset(user)
        minutes = int(float(settings.RESET_LINK_MINUTES))
        return render(
            request, "portal/forgot_sent.html", {"minutes": minutes, "sign_in_url": sign_in_url(slug)}
        )
    return render(request, "portal/forgot.html", {"form": form})
