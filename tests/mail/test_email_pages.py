"""Settings, Email in the Admin Portal: branding, the mail server shown, a test email, the outbox."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from lockstep.directory.models import AdminRole, AuditEvent, Organization
from lockstep.directory.services import admins
from lockstep.mail import delivery, outbox
from lockstep.mail.models import EmailKind, EmailStatus, OutboundEmail
from lockstep.testing.sessions import signed_in_client

BRANDING = {
    "email_sender_name": "Contoso IT",
    "email_sender_address": "it@contoso.com",
    "email_brand_color": "#AA3300",
    "email_footer": "Contoso Ltd, 1 Main Street",
}


def field_errors(html: str, field: str) -> str:
    match = re.search(rf'id="id_{field}_error"[^>]*>(.*?)</ul>', html, re.S)
    return match.group(1) if match else ""


def test_branding_is_saved_and_audited(admin_client: Client, org: Organization) -> None:
    page = admin_client.get(reverse("console:settings_email"))
    assert page.status_code == 200 and b"Sender and branding" in page.content
    response = admin_client.post(reverse("console:settings_email"), BRANDING)
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.email_sender_name, org.email_brand_color, org.email_footer) == (
        "Contoso IT",
        "#AA3300",
        "Contoso Ltd, 1 Main Street",
    )
    event = AuditEvent.objects.get(action="organization.update_settings")
    assert event.after and event.after["email_brand_color"] == "#AA3300"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("email_brand_color", "#12345", "#RRGGBB"),
        ("email_brand_color", "red", "#RRGGBB"),
        ("email_brand_color", "#1234567", "#RRGGBB"),
        ("email_sender_address", "not-an-address", "valid email address"),
        ("email_footer", "x" * 501, "at most 500"),
    ],
)
def test_bad_branding_is_refused_beside_its_field(
    admin_client: Client, org: Organization, field: str, value: str, words: str
) -> None:
    response = admin_client.post(reverse("console:settings_email"), {**BRANDING, field: value})
    assert response.status_code == 200
    assert words in field_errors(response.content.decode(), field)
    org.refresh_from_db()
    assert org.email_sender_name == ""  # nothing half-written


def test_the_limits_pass(admin_client: Client, org: Organization) -> None:
    response = admin_client.post(
        reverse("console:settings_email"),
        {**BRANDING, "email_brand_color": "#abcdef", "email_footer": "x" * 500},
    )
    assert response.status_code == 302


def test_the_mail_server_is_shown_without_its_password(admin_client: Client, settings: Any) -> None:
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "smtp.contoso.com", 587, True
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "relay@contoso.com", "Sm7p-Pa55word-x"
    html = admin_client.get(reverse("console:settings_email")).content.decode()
    assert "smtp.contoso.com:587" in html and "STARTTLS" in html and "relay@contoso.com" in html
    assert "Sm7p-Pa55word-x" not in html


def test_a_test_email_is_queued_sent_and_listed(
    admin_client: Client, org: Organization, mailbox: Any
) -> None:
    response = admin_client.post(reverse("console:settings_email_test"), {"to": "me@contoso.com"})
    assert response.status_code == 302
    email = OutboundEmail.objects.get()
    assert email.kind == EmailKind.TEST and email.user is None
    assert AuditEvent.objects.filter(action="email.send_test", target_label="me@contoso.com").exists()
    audit = admin_client.get(reverse("console:audit"), {"category": "email"}).content.decode()
    assert "email.send_test" in audit and "me@contoso.com" in audit
    delivery.drain()
    [received] = mailbox.wait_for("me@contoso.com")
    assert received.subject == "Test email from Contoso Ltd"
    page = admin_client.get(reverse("console:settings_email")).content.decode()
    assert "me@contoso.com" in page and "Sent " in page


def test_a_bad_test_address_is_refused_beside_the_field(admin_client: Client) -> None:
    response = admin_client.post(reverse("console:settings_email_test"), {"to": "nobody"})
    assert response.status_code == 200
    assert "valid email address" in field_errors(response.content.decode(), "to")
    assert not OutboundEmail.objects.exists()


def test_the_outbox_filters_pages_and_resends(
    admin_client: Client, org: Organization, clock: Any, dead_port: int
) -> None:
    for n in range(52):
        outbox.send(organization=org, kind=EmailKind.TEST, to=f"u{n}@contoso.com", context={})
        clock.advance(timedelta(seconds=1))
    failed = OutboundEmail.objects.get(to_address="u0@contoso.com")
    OutboundEmail.objects.filter(pk=failed.pk).update(
        status=EmailStatus.FAILED,
        attempts=30,
        last_error="The mail server at 127.0.0.1:1 refused the connection",
    )
    first = admin_client.get(reverse("console:settings_outbox")).content.decode()
    assert "u51@contoso.com" in first and "u0@contoso.com" not in first  # newest first, 50 a page
    assert "1\u201350 of 52" in first
    second = admin_client.get(reverse("console:settings_outbox"), {"page": 2}).content.decode()
    assert "u0@contoso.com" in second and "Failed after 30 attempts: The mail server at 127.0.0.1:1" in second
    only_failed = admin_client.get(reverse("console:settings_outbox"), {"status": "failed"}).content.decode()
    assert "u0@contoso.com" in only_failed and "u1@contoso.com" not in only_failed
    assert reverse("console:settings_email_resend", args=[failed.pk]) in only_failed
    assert only_failed.count("Resend") == 1

    response = admin_client.post(reverse("console:settings_email_resend", args=[failed.pk]))
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == EmailStatus.QUEUED and failed.attempts == 0
    again = admin_client.post(reverse("console:settings_email_resend", args=[failed.pk]), follow=True)
    assert b"Only a failed email can be sent again." in again.content


def test_read_only_admins_see_but_cannot_change(org: Organization) -> None:
    auditor = admins.create_admin(
        organization=org,
        email="auditor@contoso.com",
        password="Correct-Horse-Battery-9",
        role=AdminRole.READ_ONLY,
    )
    read_only_client = signed_in_client(auditor)
    email = outbox.send(organization=org, kind=EmailKind.TEST, to="u@contoso.com", context={})
    OutboundEmail.objects.filter(pk=email.pk).update(status=EmailStatus.FAILED)
    page = read_only_client.get(reverse("console:settings_email")).content.decode()
    assert "Mail server" in page and page.count('method="post"') == 1  # the log-out button only
    assert "Send a test email" not in page and "Save email settings" not in page
    outbox_page = read_only_client.get(reverse("console:settings_outbox")).content.decode()
    assert "u@contoso.com" in outbox_page and "Resend" not in outbox_page
    for name, args, data in (
        ("settings_email", [], BRANDING),
        ("settings_email_test", [], {"to": "me@contoso.com"}),
        ("settings_email_resend", [email.pk], {}),
    ):
        assert read_only_client.post(reverse(f"console:{name}", args=args), data).status_code == 403
    org.refresh_from_db()
    assert org.email_sender_name == "" and OutboundEmail.objects.count() == 1


def test_the_settings_page_links_to_email(admin_client: Client) -> None:
    html = admin_client.get(reverse("console:settings")).content.decode()
    assert reverse("console:settings_email") in html
