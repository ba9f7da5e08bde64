"""The user services: validation, uniqueness, transitions, passwords, audit, events."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import check_password

from lockstep.directory import events
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lockstep.directory.models import AuditEvent, IssuedImmutableId, PasswordSetup, User, UserState
from lockstep.directory.services import users

GOOD_PASSWORD = "Tr1cky-Kangaroo-Lamp"


def make(actor: Actor, **fields: Any) -> User:
    base = {
        "username": "adele",
        "email": "Adele.Vance@Contoso.com",
        "first_name": "Adele",
        "last_name": "Vance",
    }
    return users.create_user(actor=actor, fields={**base, **fields})


def test_create_normalises_and_fills_defaults(actor: Actor) -> None:
    user = make(actor)
    assert user.email == "adele.vance@contoso.com"
    assert user.display_name == "Adele Vance"
    assert user.state == UserState.STAGED
    assert user.password_setup == PasswordSetup.ACTIVATION
    assert not user.has_password


def test_immutable_id_is_unique_alphanumeric_and_never_reused(actor: Actor) -> None:
    first = make(actor)
    assert first.immutable_id.isalnum() and len(first.immutable_id) <= 64
    first_id = first.immutable_id
    users.delete_user(actor=actor, user_id=first.pk)
    second = make(actor)
    assert second.immutable_id != first_id
    assert IssuedImmutableId.objects.filter(value=first_id).exists()


def test_duplicate_username_and_email_conflict_naming_the_field(actor: Actor) -> None:
    make(actor)
    with pytest.raises(Conflict) as dup_name:
        make(actor, email="other@contoso.com", username="ADELE")
    assert dup_name.value.field == "username"
    with pytest.raises(Conflict) as dup_email:
        make(actor, username="adele2", email="ADELE.VANCE@contoso.com")
    assert dup_email.value.field == "email"
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "length"),
    [
        ("display_name", 257),
        ("first_name", 65),
        ("last_name", 65),
        ("job_title", 129),
        ("department", 65),
        ("employee_id", 17),
    ],
)
def test_graph_length_limits(actor: Actor, field: str, length: int) -> None:
    with pytest.raises(ValidationFailed) as failed:
        make(actor, **{field: "x" * length})
    assert failed.value.errors[field] == [f"Must be at most {length - 1} characters."]
    assert not User.objects.exists()


def test_limits_themselves_are_accepted(actor: Actor) -> None:
    user = make(actor, display_name="d" * 256, job_title="j" * 128, employee_id="1" * 16)
    assert len(user.display_name) == 256


@pytest.mark.parametrize(
    "email",
    [
        "not-an-email",
        "a@b@contoso.com",
        "adèle@contoso.com",
        "adele.@contoso.com",
        "adele@localhost",
        "a b@contoso.com",
    ],
)
def test_company_email_must_be_a_valid_upn(actor: Actor, email: str) -> None:
    with pytest.raises(ValidationFailed) as failed:
        make(actor, email=email)
    assert "email" in failed.value.errors


def test_unknown_field_is_named(actor: Actor) -> None:
    with pytest.raises(ValidationFailed) as failed:
        make(actor, shoe_size="44")
    assert failed.value.errors == {"shoe_size": ["Unknown field."]}


def test_weak_initial_password_lists_each_rule_and_writes_nothing(actor: Actor) -> None:
    with pytest.raises(ValidationFailed) as failed:
        users.create_user(
            actor=actor, fields={"username": "bob", "email": "bob@contoso.com"}, initial_password="abc"
        )
    messages = failed.value.errors["initial_password"]
    assert len(messages) >= 2  # too short and too few character classes
    assert not User.objects.exists()
    assert not AuditEvent.objects.filter(action="user.create").exists()


def test_initial_password_is_hashed_with_argon2_and_audit_has_no_secret(actor: Actor) -> None:
    user = users.create_user(
        actor=actor, fields={"username": "bob", "email": "bob@contoso.com"}, initial_password=GOOD_PASSWORD
    )
    assert user.password_hash.startswith("argon2")
    assert check_password(GOOD_PASSWORD, user.password_hash)
    assert user.password_setup == PasswordSetup.INITIAL
    for event in AuditEvent.objects.all():
        assert GOOD_PASSWORD not in str(event.before) + str(event.after)
        assert "argon2" not in str(event.after)


def test_transitions_follow_the_state_machine(actor: Actor) -> None:
    user = make(actor)
    with pytest.raises(Conflict) as bad:
        users.change_state(actor=actor, user_id=user.pk, to_state="staged")
    assert bad.value.allowed == ["active", "suspended"]
    users.change_state(actor=actor, user_id=user.pk, to_state="active")
    users.change_state(actor=actor, user_id=user.pk, to_state="suspended")
    users.change_state(actor=actor, user_id=user.pk, to_state="active")
    actions = list(
        AuditEvent.objects.filter(target_type="user", target_id=str(user.pk))
        .values_list("action", flat=True)
        .order_by("id")
    )
    assert actions == ["user.create", "user.activate", "user.suspend", "user.unsuspend"]


def test_read_only_actor_cannot_write(read_only_actor: Actor) -> None:
    with pytest.raises(PermissionDenied):
        make(read_only_actor)


def test_objects_of_another_organization_are_not_found(actor: Actor, other_org: Any) -> None:
    user = make(actor)
    outsider = Actor.system(other_org.pk)
    with pytest.raises(NotFound):
        users.get_user(actor=outsider, user_id=user.pk)
    with pytest.raises(NotFound):
        users.update_user(actor=outsider, user_id=user.pk, changes={"job_title": "x"})


def test_update_audits_only_changed_fields_and_sends_event(
    actor: Actor, django_capture_on_commit_callbacks: Any
) -> None:
    user = make(actor)
    received: list[dict[str, Any]] = []

    def listener(**kwargs: Any) -> None:
        received.append(kwargs)

    events.user_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            users.update_user(
                actor=actor, user_id=user.pk, changes={"job_title": "CFO", "first_name": "Adele"}
            )
    finally:
        events.user_changed.disconnect(listener)
    event = AuditEvent.objects.filter(action="user.update").get()
    assert event.before == {"job_title": ""} and event.after == {"job_title": "CFO"}
    assert received[0]["fields"] == ["job_title"]


def test_password_event_carries_plaintext_only_in_memory(
    actor: Actor, django_capture_on_commit_callbacks: Any
) -> None:
    user = make(actor)
    seen: list[str] = []

    def listener(**kwargs: Any) -> None:
        seen.append(kwargs["password"])

    events.password_set.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            users.set_password(actor=actor, user_id=user.pk, password=GOOD_PASSWORD)
    finally:
        events.password_set.disconnect(listener)
    assert seen == [GOOD_PASSWORD]
    user.refresh_from_db()
    assert GOOD_PASSWORD not in user.password_hash


def test_keyset_pagination_covers_every_user_once(actor: Actor) -> None:
    for i in range(23):
        make(actor, username=f"user{i:02d}", email=f"user{i:02d}@contoso.com")
    seen: list[str] = []
    cursor = None
    while True:
        page = users.list_users(actor=actor, cursor=cursor, limit=5)
        seen.extend(u.username for u in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 23


def test_bad_cursor_and_filter_are_named(actor: Actor) -> None:
    with pytest.raises(ValidationFailed) as bad_cursor:
        users.list_users(actor=actor, cursor="garbage!")
    assert "cursor" in bad_cursor.value.errors
    with pytest.raises(ValidationFailed) as bad_state:
        users.list_users(actor=actor, state="deleted")
    assert "state" in bad_state.value.errors
