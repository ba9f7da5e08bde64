"""POST /users/{id}/activation-email, POST /users/activation-emails, and the user fields
can_sign_in, sign_in_words, last_email (one query each per page, not per user)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent, User
from lockstep.directory.services import users
from lockstep.mail.models import OutboundEmail
from lockstep.portal.models import SignInThrottle
from lockstep.portal.services import emails
from lockstep.testing.sent_emails import SentEmail, capture

from .conftest import JsonClient

pytestmark = pytest.mark.django_db

GOOD = "Tr1cky-Kangaroo-Lamp"
MakeUser = Callable[..., User]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[SentEmail]:
    return capture(monkeypatch)


def _active(actor: Actor, make_user: MakeUser, name: str, password: str | None = None, **fields: str) -> User:
    user = make_user(name, **fields)
    users.change_state(actor=actor, user_id=user.pk, to_state="active")
    if password:
        users.set_password(actor=actor, user_id=user.pk, password=password)
    return user


def test_send_to_one_user(
    client_a: JsonClient, make_user: MakeUser, actor: Actor, sent: list[SentEmail]
) -> None:
    adele = _active(actor, make_user, "adele", alternate_email="adele@home.example")
    response = client_a.post(f"users/{adele.pk}/activation-email")
    assert response.status_code == 200, response.data
    assert response.data == {
        "user_id": adele.pk,
        "username": "adele",
        "sent": "activation",
        "to": "adele@home.example",
        "reason": "",
    }
    assert [(e.kind, e.to) for e in sent] == [("activation", "adele@home.example")]
    assert AuditEvent.objects.filter(action="user.send_activation_email").count() == 1


def test_a_staged_user_is_409_with_the_reason(
    client_a: JsonClient, make_user: MakeUser, sent: list[SentEmail]
) -> None:
    dana = make_user("dana")
    response = client_a.post(f"users/{dana.pk}/activation-email")
    assert response.status_code == 409
    assert response.data["error"]["message"] == "No email sent. Staged: activate the user first."
    assert sent == []


def test_errors_other_organization_read_only(
    client_a: JsonClient,
    client_b: JsonClient,
    read_only_client: JsonClient,
    make_user: MakeUser,
    actor: Actor,
    sent: list[SentEmail],
) -> None:
    adele = _active(actor, make_user, "adele")
    assert client_b.post(f"users/{adele.pk}/activation-email").status_code == 404
    assert read_only_client.post(f"users/{adele.pk}/activation-email").status_code == 403
    assert read_only_client.post("users/activation-emails", {"user_ids": [adele.pk]}).status_code == 403
    refused = client_b.post("users/activation-emails", {"user_ids": [adele.pk]})
    assert refused.status_code == 422 and "user_ids" in refused.data["error"]["fields"]
    empty = client_a.post("users/activation-emails", {"user_ids": []})
    assert empty.status_code == 422 and empty.data["error"]["fields"]["user_ids"] == [
        "Select at least one user."
    ]
    assert sent == []


def test_send_to_many(client_a: JsonClient, make_user: MakeUser, actor: Actor, sent: list[SentEmail]) -> None:
    adele = _active(actor, make_user, "adele")
    carlos = _active(actor, make_user, "carlos", password=GOOD)
    dana = make_user("dana")
    sent.clear()
    response = client_a.post("users/activation-emails", {"user_ids": [dana.pk, carlos.pk, adele.pk]})
    assert response.status_code == 200
    assert (response.data["sent"], response.data["skipped"]) == (2, 1)
    assert [(i["username"], i["sent"], i["reason"]) for i in response.data["items"]] == [
        ("adele", "activation", ""),
        ("carlos", "welcome", ""),
        ("dana", "skipped", "Staged: activate the user first."),
    ]
    assert sorted(e.kind for e in sent) == ["activation", "welcome"]


def test_user_fields_say_whether_they_can_sign_in_and_their_last_email(
    client_a: JsonClient, make_user: MakeUser, actor: Actor, sent: list[SentEmail]
) -> None:
    adele = _active(actor, make_user, "adele")
    dana = make_user("dana")
    client_a.post(f"users/{adele.pk}/activation-email")
    one = client_a.get(f"users/{adele.pk}").data
    assert one["can_sign_in"] is False and "no password yet" in one["sign_in_words"]
    assert one["last_email"]["kind"] == "activation" and one["last_email"]["status"] == "queued"
    queued = emails.status_words_of(OutboundEmail.objects.get(kind="activation"))
    assert one["last_email"]["status_words"] == queued != ""
    assert client_a.get(f"users/{dana.pk}").data["last_email"] is None
    users.set_password(actor=actor, user_id=adele.pk, password=GOOD)
    listed = {u["username"]: u for u in client_a.get("users").data["items"]}
    assert (listed["adele"]["can_sign_in"], listed["adele"]["sign_in_words"]) == (True, "Yes.")
    assert listed["adele"]["last_email"]["kind"] == "password_changed"
    assert listed["dana"]["sign_in_words"] == "No, because the user is staged: activate the user first."


def test_the_list_costs_the_same_queries_for_2_or_12_users_with_emails_and_locks(
    client_a: JsonClient, make_user: MakeUser, actor: Actor, sent: list[SentEmail]
) -> None:
    until = timezone.now() + timedelta(minutes=10)
    for n in range(12):
        user = _active(actor, make_user, f"user{n:02d}", password=GOOD)
        SignInThrottle.objects.create(scope="account", key=str(user.pk), failures=9, locked_until=until)
    counts = []
    for limit in (2, 12):
        client_a.get(f"users?limit={limit}")
        with CaptureQueriesContext(connection) as captured:
            response = client_a.get(f"users?limit={limit}")
        assert response.status_code == 200
        assert all(not u["can_sign_in"] and u["last_email"] for u in response.data["items"])
        counts.append(len(captured))
    assert counts[0] == counts[1], counts
