"""The self-service profile service: only one's own account, only the allowed attributes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lockstep.directory import events
from lockstep.directory.actors import Actor
from lockstep.directory.errors import PermissionDenied, ValidationFailed
from lockstep.directory.models import User, UserState
from lockstep.directory.services import organizations, users
from lockstep.directory.services.users_self import clean_editable, update_own_profile

pytestmark = pytest.mark.django_db


@pytest.fixture
def allow(actor: Actor) -> Callable[..., None]:
    def set_allowed(*names: str) -> None:
        organizations.update_settings(actor=actor, changes={"portal_editable_fields": list(names)})

    return set_allowed


def test_edits_allowed_fields_and_emits_user_changed(person: User, allow: Callable[..., None]) -> None:
    allow("department", "display_name")
    seen: list[dict[str, object]] = []

    def receiver(**kwargs: object) -> None:
        seen.append(kwargs)

    events.user_changed.connect(receiver)
    try:
        update_own_profile(actor=Actor.for_user(person), user=person, changes={"department": "  Sales "})
    finally:
        events.user_changed.disconnect(receiver)
    person.refresh_from_db()
    assert person.department == "Sales"
    assert [s["fields"] for s in seen] == [["department"]]


def test_refuses_fields_not_allowed_naming_them(person: User, allow: Callable[..., None]) -> None:
    allow("department")
    with pytest.raises(ValidationFailed) as failed:
        update_own_profile(
            actor=Actor.for_user(person), user=person, changes={"department": "x", "job_title": "CEO"}
        )
    assert set(failed.value.errors) == {"job_title"}


def test_cleans_like_an_admin_edit(person: User, allow: Callable[..., None]) -> None:
    allow("display_name", "alternate_email")
    with pytest.raises(ValidationFailed) as failed:
        update_own_profile(
            actor=Actor.for_user(person), user=person, changes={"display_name": "", "alternate_email": "nope"}
        )
    assert set(failed.value.errors) == {"display_name", "alternate_email"}


def test_only_ones_own_active_account(
    person: User, make_person: Callable[..., User], allow: Callable[..., None], actor: Actor
) -> None:
    allow("department")
    other = make_person("victor")
    with pytest.raises(PermissionDenied):
        update_own_profile(actor=Actor.for_user(other), user=person, changes={"department": "x"})
    with pytest.raises(PermissionDenied):
        update_own_profile(actor=actor, user=person, changes={"department": "x"})
    users.change_state(actor=actor, user_id=person.pk, to_state=UserState.SUSPENDED)
    with pytest.raises(PermissionDenied):
        update_own_profile(actor=Actor.for_user(person), user=person, changes={"department": "x"})


def test_the_allow_list_setting() -> None:
    assert clean_editable(["mobile_phone", "job_title"]) == "job_title,mobile_phone"
    assert clean_editable([]) == ""
    for bad in (["username"], ["email"], ["usage_location"], ["employee_id"], "state", [1]):
        with pytest.raises(ValidationFailed) as failed:
            clean_editable(bad)
        assert list(failed.value.errors) == ["portal_editable_fields"]
