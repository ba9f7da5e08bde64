"""Home, profile, password change and two-step verification, through the pages."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
import pytest
from django.test import Client
from tests.portal.conftest import USER_PASSWORD, portal_sign_in

from lockstep.directory import events
from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent, Organization, User
from lockstep.directory.services import organizations
from lockstep.portal import recovery, totp
from lockstep.portal.models import RecoveryCode

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "Brand-New-Orchard-88"


def test_home_lists_links(portal_client: Client) -> None:
    html = portal_client.get("/portal/").content.decode()
    assert "Hello, Adele Vance" in html
    for link in ("/portal/profile/", "/portal/password/", "/portal/mfa/"):
        assert f'href="{link}"' in html
    assert "not in any Microsoft 365 directory" in html


def test_profile_shows_everything_and_edits_only_allowed(
    portal_client: Client, person: User, actor: Actor, org: Organization
) -> None:
    html = portal_client.get("/portal/profile/").content.decode()
    assert "adele@contoso.com" in html and "Job title" in html
    assert 'action="/portal/profile/"' not in html  # nothing editable by default
    organizations.update_settings(
        actor=actor, changes={"portal_editable_fields": ["job_title", "mobile_phone"]}
    )
    html = portal_client.get("/portal/profile/").content.decode()
    assert 'name="job_title"' in html and 'name="mobile_phone"' in html and 'name="username"' not in html
    response = portal_client.post(
        "/portal/profile/", {"job_title": "Pilot", "mobile_phone": "+1 555 0100", "username": "hijack"}
    )
    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.job_title, person.mobile_phone, person.username) == ("Pilot", "+1 555 0100", "adele")
    event = AuditEvent.objects.get(action="user.update_own_profile")
    assert event.actor_kind == "user" and event.actor_id == str(person.pk)


def test_profile_errors_name_the_field(portal_client: Client, actor: Actor) -> None:
    organizations.update_settings(
        actor=actor, changes={"portal_editable_fields": ["mobile_phone", "job_title"]}
    )
    response = portal_client.post("/portal/profile/", {"job_title": "x" * 200, "mobile_phone": ""})
    assert response.status_code == 200
    assert "Must be at most 128 characters." in response.content.decode()


def test_a_new_alternate_email_needs_the_current_password(
    portal_client: Client, person: User, actor: Actor
) -> None:
    organizations.update_settings(
        actor=actor, changes={"portal_editable_fields": ["alternate_email", "job_title"]}
    )
    assert 'name="current_password"' in portal_client.get("/portal/profile/").content.decode()
    same = person.alternate_email
    kept = portal_client.post("/portal/profile/", {"alternate_email": same, "job_title": "Pilot"})
    assert kept.status_code == 302  # the same alternate email: no password needed for other fields
    refused = portal_client.post(
        "/portal/profile/", {"alternate_email": "thief@evil.example", "job_title": "X"}
    )
    assert refused.status_code == 200
    assert "Enter your current password to change your alternate email." in refused.content.decode()
    wrong = portal_client.post(
        "/portal/profile/",
        {"alternate_email": "thief@evil.example", "job_title": "X", "current_password": "Not-It-At-All-9"},
    )
    assert wrong.status_code == 200
    person.refresh_from_db()
    assert (person.alternate_email, person.job_title) == (same, "Pilot")  # nothing half-written
    done = portal_client.post(
        "/portal/profile/",
        {"alternate_email": "adele.new@example.net", "job_title": "X", "current_password": USER_PASSWORD},
    )
    assert done.status_code == 302
    person.refresh_from_db()
    assert (person.alternate_email, person.job_title) == ("adele.new@example.net", "X")


def test_password_change(portal_client: Client, person: User) -> None:
    seen: list[dict[str, object]] = []

    def receiver(**kwargs: object) -> None:
        seen.append(kwargs)

    other = Client()
    assert portal_sign_in(other, "adele").status_code == 302
    events.password_set.connect(receiver)
    try:
        wrong = portal_client.post(
            "/portal/password/",
            {
                "current_password": "Nope-Nope-Nope-1",
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD,
            },
        )
        assert "This is not your current password." in wrong.content.decode()
        mismatch = portal_client.post(
            "/portal/password/",
            {
                "current_password": USER_PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD + "x",
            },
        )
        assert "The two new passwords are not the same." in mismatch.content.decode()
        weak = portal_client.post(
            "/portal/password/",
            {"current_password": USER_PASSWORD, "new_password": "short", "new_password_again": "short"},
        )
        assert weak.status_code == 200 and "Must be" in weak.content.decode()
        assert seen == []
        done = portal_client.post(
            "/portal/password/",
            {
                "current_password": USER_PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD,
            },
        )
    finally:
        events.password_set.disconnect(receiver)
    assert done.status_code == 302
    assert [(s["how"], s["user_id"]) for s in seen] == [("change", person.pk)]
    assert portal_client.get("/portal/").status_code == 200  # this session goes on
    assert other.get("/portal/").status_code == 302  # the other one ended
    assert portal_sign_in(Client(), "adele", NEW_PASSWORD).status_code == 302


def test_set_password_refuses_a_user_acting_on_someone_else(
    person: User, make_person: Callable[..., User]
) -> None:
    from lockstep.directory.errors import PermissionDenied
    from lockstep.directory.services import users

    victim = make_person("victor")
    with pytest.raises(PermissionDenied):
        users.set_password(actor=Actor.for_user(person), user_id=victim.pk, password=NEW_PASSWORD)


def _enrol(client: Client) -> tuple[str, list[str]]:
    html = client.get("/portal/mfa/").content.decode()
    assert "<svg" in html
    secret = html.split('<code class="secret">')[1].split("<")[0]
    response = client.post("/portal/mfa/", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    codes = response.content.decode().split("<code>")[1:]
    return secret, [c.split("</code>")[0] for c in codes]


def test_enrolment_then_sign_in_with_totp_and_recovery_codes(portal_client: Client, person: User) -> None:
    secret, codes = _enrol(portal_client)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert RecoveryCode.objects.filter(user=person).count() == 10
    assert not RecoveryCode.objects.filter(code_hash__in=codes).exists()  # stored hashed
    person.refresh_from_db()
    assert person.totp_enabled and secret not in person.totp_secret_encrypted

    client = Client()
    response = portal_sign_in(client, "adele")
    assert response["Location"] == "/portal/login/mfa/"
    assert client.get("/portal/").status_code == 302  # not signed in before the code
    assert client.post("/portal/login/mfa/", {"code": "000000"}).status_code == 200
    used = pyotp.TOTP(secret)
    code = used.generate_otp(
        max(used.timecode(__import__("datetime").datetime.now()), totp.last_counter(person) + 1)
    )
    assert client.post("/portal/login/mfa/", {"code": code}).status_code == 302
    assert client.get("/portal/").status_code == 200

    replay = Client()
    portal_sign_in(replay, "adele")
    assert replay.post("/portal/login/mfa/", {"code": code}).status_code == 200  # a code works once

    by_code = Client()
    portal_sign_in(by_code, "adele")
    assert by_code.post("/portal/login/mfa/", {"code": codes[0].upper()}).status_code == 302
    assert recovery.remaining(person) == 9
    again = Client()
    portal_sign_in(again, "adele")
    assert again.post("/portal/login/mfa/", {"code": codes[0]}).status_code == 200  # single-use


def test_regenerate_and_disable(portal_client: Client, person: User) -> None:
    _secret, codes = _enrol(portal_client)
    response = portal_client.post("/portal/mfa/recovery-codes/")
    fresh = [c.split("</code>")[0] for c in response.content.decode().split("<code>")[1:]]
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    assert not recovery.consume(person, codes[1])
    refused = portal_client.post("/portal/mfa/", {"password": "Wrong-Wrong-Wrong-1"})
    assert refused.status_code == 200 and "This is not your password." in refused.content.decode()
    assert portal_client.post("/portal/mfa/", {"password": USER_PASSWORD}).status_code == 302
    person.refresh_from_db()
    assert not person.totp_enabled and RecoveryCode.objects.filter(user=person).count() == 0
    assert portal_sign_in(Client(), "adele")["Location"] == "/portal/"


def test_the_code_step_expires_and_needs_the_password_step_first(person: User) -> None:
    from lockstep.portal.views import auth

    assert Client().get("/portal/login/mfa/")["Location"] == "/portal/login/"
    secret = totp.begin_enrolment()
    totp.confirm_enrolment(user=person, secret=secret, code=pyotp.TOTP(secret).now())
    client = Client()
    portal_sign_in(client, "adele")
    from tests.portal.conftest import portal_session

    session = portal_session(client)
    session[auth.PENDING_AT] = session[auth.PENDING_AT] - auth.PENDING_SECONDS - 1
    session.save()
    code = pyotp.TOTP(secret).generate_otp(totp.last_counter(person) + 1)
    response = client.post("/portal/login/mfa/", {"code": code})
    assert response.status_code == 302 and response["Location"] == "/portal/login/"
    assert client.get("/portal/").status_code == 302
