"""/emails: the outbox over the API (cursor pages, filters, resend) and the organization's email branding."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from lockstep.directory.models import AuditEvent, Organization, User
from lockstep.directory.services import users
from lockstep.mail import delivery, outbox
from lockstep.mail.models import EmailKind, EmailStatus, OutboundEmail

from .conftest import JsonClient

pytestmark = pytest.mark.django_db

BRANDING = {
    "email_sender_name": "Contoso IT",
    "email_sender_address": "it@contoso.com",
    "email_brand_color": "#AA3300",
    "email_footer": "Contoso Ltd, 1 Main Street",
}


@pytest.fixture
def moved(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    from django.utils import timezone

    now = [timezone.now()]
    monkeypatch.setattr(delivery, "clock", lambda: now[0])
    return now


def queue(org: Organization, to: str, user: User | None = None) -> OutboundEmail:
    return outbox.send(organization=org, kind=EmailKind.TEST, to=to, context={}, user=user)


def test_emails_are_listed_newest_first_in_cursor_pages(
    client_a: JsonClient, org: Organization, moved: list[Any]
) -> None:
    for n in range(5):
        queue(org, f"u{n}@contoso.com")
        moved[0] += timedelta(seconds=1)
    first = client_a.get("emails?limit=2")
    assert first.status_code == 200, first.data
    assert [e["to_address"] for e in first.data["items"]] == ["u4@contoso.com", "u3@contoso.com"]
    item = first.data["items"][0]
    assert item["status"] == "queued" and item["status_words"] == "Queued, not sent yet"
    assert item["kind"] == "test" and item["attempts"] == 0 and item["next_attempt_at"]
    assert "body_encrypted" not in item
    seen = [e["to_address"] for e in first.data["items"]]
    cursor = first.data["next_cursor"]
    while cursor:
        page = client_a.get(f"emails?limit=2&cursor={cursor}")
        seen += [e["to_address"] for e in page.data["items"]]
        cursor = page.data["next_cursor"]
    assert seen == [f"u{n}@contoso.com" for n in range(4, -1, -1)]


def test_emails_filter_by_status_and_user(
    client_a: JsonClient, org: Organization, actor: Any, mailbox: Any
) -> None:
    adele = users.create_user(actor=actor, fields={"username": "adele", "email": "adele@contoso.com"})
    queue(org, "adele@contoso.com", user=adele)
    delivery.drain()
    queue(org, "other@contoso.com")
    sent = client_a.get("emails?status=sent")
    assert [e["to_address"] for e in sent.data["items"]] == ["adele@contoso.com"]
    assert sent.data["items"][0]["status_words"].startswith("Sent ")
    assert sent.data["items"][0]["next_attempt_at"] is None
    mine = client_a.get(f"emails?user_id={adele.pk}")
    assert [e["user_id"] for e in mine.data["items"]] == [adele.pk]
    bad = client_a.get("emails?status=lost")
    assert bad.status_code == 422 and "status" in bad.data["error"]["fields"]


def test_emails_of_another_organization_are_invisible(
    client_a: JsonClient, client_b: JsonClient, org: Organization, other_org: Organization
) -> None:
    theirs = queue(other_org, "x@fabrikam.com")
    OutboundEmail.objects.filter(pk=theirs.pk).update(status=EmailStatus.FAILED)
    assert client_a.get("emails").data["items"] == []
    assert client_a.get(f"emails/{theirs.pk}").status_code == 404
    assert client_a.post(f"emails/{theirs.pk}/resend").status_code == 404
    assert client_b.get(f"emails/{theirs.pk}").data["to_address"] == "x@fabrikam.com"


def test_a_failed_email_is_resent(
    client_a: JsonClient, read_only_client: JsonClient, org: Organization
) -> None:
    email = queue(org, "adele@contoso.com")
    assert client_a.post(f"emails/{email.pk}/resend").status_code == 409  # not failed
    OutboundEmail.objects.filter(pk=email.pk).update(status=EmailStatus.FAILED, attempts=30)
    assert read_only_client.post(f"emails/{email.pk}/resend").status_code == 403
    response = client_a.post(f"emails/{email.pk}/resend")
    assert response.status_code == 200 and response.data["status"] == "queued"
    assert AuditEvent.objects.filter(action="email.resend").count() == 1


def test_branding_is_read_and_patched(client_a: JsonClient, org: Organization) -> None:
    response = client_a.patch("organization", BRANDING)
    assert response.status_code == 200, response.data
    assert {k: response.data[k] for k in BRANDING} == BRANDING
    org.refresh_from_db()
    assert org.email_brand_color == "#AA3300" and org.email_footer == "Contoso Ltd, 1 Main Street"
    assert client_a.get("organization").data["email_brand_color"] == "#AA3300"
    assert client_a.patch("organization", {"email_brand_color": ""}).status_code == 200  # back to default


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email_brand_color", "#12345"),
        ("email_brand_color", "#GG0000"),
        ("email_sender_address", "not-an-address"),
        ("email_sender_name", "Contoso\r\nBcc: x@y.com"),
        ("email_footer", "x" * 501),
    ],
)
def test_bad_branding_names_the_field(
    client_a: JsonClient, org: Organization, field: str, value: str
) -> None:
    response = client_a.patch("organization", {**BRANDING, field: value})
    assert response.status_code == 422, response.data
    assert field in response.data["error"]["fields"]
    org.refresh_from_db()
    assert org.email_sender_name == ""


def test_branding_limits_pass(client_a: JsonClient) -> None:
    response = client_a.patch("organization", {"email_footer": "x" * 500, "email_brand_color": "#abcdef"})
    assert response.status_code == 200, response.data


def test_an_old_bad_sender_address_never_blocks_another_change(
    client_a: JsonClient, org: Organization
) -> None:
    Organization.objects.filter(pk=org.pk).update(email_sender_address="stored before it was checked")
    assert client_a.patch("organization", {"name": "Contoso"}).status_code == 200
    assert client_a.patch("organization", {"email_sender_address": "still bad"}).status_code == 422
