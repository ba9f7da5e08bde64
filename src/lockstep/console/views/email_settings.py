"""Settings, Email: the organization's email branding, the mail server in use, a test email, the outbox."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from lockstep.console.access import actor_for
from lockstep.console.email_forms import (
    BRANDING_FIELDS,
    EmailBrandingForm,
    OutboxFilterForm,
    TestEmailForm,
)
from lockstep.console.paging import numbered_page
from lockstep.directory.errors import Conflict, ValidationFailed
from lockstep.directory.form_errors import show_service_error
from lockstep.directory.services import organizations
from lockstep.mail import delivery, outbox
from lockstep.mail.models import OutboundEmail
from lockstep.mail.status import status_words

PAGE_SIZE = 50
SECURITY_WORDS = {
    "none": "none (plain SMTP)",
    "starttls": "STARTTLS",
    "tls": "TLS from the start (SMTPS)",
}


def mail_server() -> list[tuple[str, str]]:
    """The SMTP configuration in words (never the password itself)."""
    security = "tls" if settings.EMAIL_USE_SSL else "starttls" if settings.EMAIL_USE_TLS else "none"
    return [
        ("Server", f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"),
        ("Security", SECURITY_WORDS[security]),
        ("User name", settings.EMAIL_HOST_USER or "none (no sign-in)"),
        ("Password", "set" if settings.EMAIL_HOST_PASSWORD else "not set"),
        ("Default sender", settings.DEFAULT_FROM_EMAIL),
        ("Timeout", f"{settings.EMAIL_TIMEOUT:g} s"),
    ]


def _page(request: HttpRequest, branding: EmailBrandingForm, test: TestEmailForm) -> HttpResponse:
    actor = actor_for(request)
    if not actor.can_write:
        for field in branding.fields.values():
            field.disabled = True
    recent = OutboundEmail.objects.filter(organization_id=actor.organization_id).order_by(
        "-created_at", "-pk"
    )
    return render(
        request,
        "console/settings/email.html",
        {
            "branding": branding,
            "test_form": test,
            "server": mail_server(),
            "recent": [(email, status_words(email)) for email in recent[:5]],
        },
    )


def email_settings(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    organization = organizations.get_organization(actor=actor)
    current = {field: getattr(organization, field) for field in BRANDING_FIELDS}
    form = EmailBrandingForm(request.POST or None, initial=current)
    if request.method == "POST" and form.is_valid():
        changes = {field: form.cleaned_data[field].strip() for field in BRANDING_FIELDS}
        try:
            organizations.update_settings(actor=actor, changes=changes)
        except ValidationFailed as error:
            show_service_error(form, error)
        else:
            messages.success(request, "Email settings saved.")
            return redirect("console:settings_email")
    return _page(request, form, TestEmailForm())


@require_POST
def email_test(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    form = TestEmailForm(request.POST)
    if form.is_valid():
        try:
            email = outbox.send_test(actor=actor, to=form.cleaned_data["to"])
        except ValidationFailed as error:
            show_service_error(form, error, {"to": "to"})
        else:
            messages.success(
                request, f"Test email queued for {email.to_address}. Its status shows under Latest emails."
            )
            return redirect("console:settings_email")
    organization = organizations.get_organization(actor=actor)
    branding = EmailBrandingForm(initial={field: getattr(organization, field) for field in BRANDING_FIELDS})
    return _page(request, branding, form)


def email_outbox(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    filters = OutboxFilterForm(request.GET or None)
    wanted = filters.cleaned_data["status"] if filters.is_valid() else ""
    emails = OutboundEmail.objects.filter(organization_id=actor.organization_id).select_related("user")
    if wanted:
        emails = emails.filter(status=wanted)
    query: dict[str, Any] = {"status": wanted} if wanted else {}
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:
        number = 1
    page = numbered_page(emails.order_by("-created_at", "-pk"), number=number, size=PAGE_SIZE, query=query)
    return render(
        request,
        "console/settings/outbox.html",
        {
            "filters": filters,
            "page": page,
            "rows": [(email, status_words(email)) for email in page.items],
            "status": wanted,
        },
    )


@require_POST
def email_resend(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        email = delivery.resend(actor=actor_for(request), email_id=pk)
    except Conflict as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"The email to {email.to_address} is queued again.")
    return redirect("console:settings_outbox")
