"""Sign-in throttling: per account (strangers only) and per address, at their edges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from tests.portal.conftest import USER_PASSWORD, portal_sign_in

from lockstep.directory.actors import Actor
from lockstep.directory.errors import NotFound, PermissionDenied
from lockstep.directory.models import AuditEvent, User
from lockstep.portal import devices, throttle
from lockstep.portal.models import SignInThrottle, ThrottleScope

pytestmark = pytest.mark.django_db
WRONG = "Wrong-Guess-Number-1"


def _fail(client: Client, login: str, times: int, address: str = "198.51.100.7") -> None:
    for _ in range(times):
        response = client.post("/portal/login/", {"login": login, "password": WRONG}, REMOTE_ADDR=address)
        assert response.status_code in (200, 429)


def _sign_in(client: Client, login: str, address: str) -> Any:
    return client.post("/portal/login/", {"login": login, "password": USER_PASSWORD}, REMOTE_ADDR=address)


def test_account_limit_minus_one_failures_do_not_lock(person: User) -> None:
    _fail(Client(), "adele", throttle.ACCOUNT_LIMIT - 1)
    assert throttle.locked_until(person) is None
    response = portal_sign_in(Client(), "adele")
    assert response.status_code == 302


def test_account_limit_failures_lock_strangers_without_checking_the_password(person: User) -> None:
    _fail(Client(), "adele", throttle.ACCOUNT_LIMIT)
    until = throttle.locked_until(person)
    assert until is not None and until > timezone.now() + timedelta(minutes=14)
    response = Client().post("/portal/login/", {"login": "adele", "password": USER_PASSWORD})
    assert response.status_code == 429
    html = response.content.decode()
    assert "account is locked" in html and "ask your administrator" in html
    assert "portal_user_id" not in html


def test_a_browser_that_signed_in_before_is_not_locked_out(person: User) -> None:
    own = Client()
    assert portal_sign_in(own, "adele").status_code == 302
    cookie = own.cookies[devices.COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/portal/"
    own.post("/portal/logout/")
    _fail(Client(), "adele", throttle.ACCOUNT_LIMIT + 3, address="203.0.113.9")  # the attacker
    assert throttle.locked_until(person) is not None
    assert portal_sign_in(Client(), "adele").status_code == 429  # a stranger's browser
    assert portal_sign_in(own, "adele").status_code == 302  # the owner's browser


def test_a_forged_known_device_cookie_does_not_help(person: User) -> None:
    _fail(Client(), "adele", throttle.ACCOUNT_LIMIT)
    forger = Client()
    forger.cookies[devices.COOKIE] = f"[{person.pk}]"
    assert portal_sign_in(forger, "adele").status_code == 429


def test_success_resets_the_account_counter(person: User) -> None:
    _fail(Client(), "adele", throttle.ACCOUNT_LIMIT - 1)
    assert portal_sign_in(Client(), "adele").status_code == 302
    _fail(Client(), "adele", throttle.ACCOUNT_LIMIT - 1)
    assert throttle.locked_until(person) is None


def test_source_limit_edges(make_person: Callable[..., User]) -> None:
    make_person("zoe")
    client = Client()
    _fail(client, "nobody", throttle.SOURCE_LIMIT - 1)
    response = client.post(
        "/portal/login/", {"login": "zoe", "password": USER_PASSWORD}, REMOTE_ADDR="198.51.100.7"
    )
    assert response.status_code == 302  # limit - 1 failures: still allowed
    client = Client()
    _fail(client, "nobody", 1)  # now at the limit
    response = client.post(
        "/portal/login/", {"login": "zoe", "password": USER_PASSWORD}, REMOTE_ADDR="198.51.100.7"
    )
    assert response.status_code == 429
    assert "from your network" in response.content.decode()
    # Another address is not affected.
    response = client.post(
        "/portal/login/", {"login": "zoe", "password": USER_PASSWORD}, REMOTE_ADDR="198.51.100.8"
    )
    assert response.status_code == 302


def test_a_locked_office_address_still_lets_each_known_browser_in_to_its_own_account(
    person: User, make_person: Callable[..., User]
) -> None:
    make_person("zoe")
    office = "192.0.2.1"  # one NAT address for the whole office
    own = Client()
    assert _sign_in(own, "adele", office).status_code == 302
    own.post("/portal/logout/")
    _fail(Client(), "nobody", throttle.SOURCE_LIMIT, address=office)  # someone in the office guesses
    assert throttle.source_lock(office) is not None
    assert _sign_in(own, "adele", office).status_code == 302  # known: let in
    own.post("/portal/logout/")
    assert _sign_in(own, "zoe", office).status_code == 429  # not known to zoe
    assert _sign_in(Client(), "adele", office).status_code == 429  # a stranger


def test_a_known_browser_is_forgotten_when_the_password_changes(person: User, actor: Actor) -> None:
    from lockstep.directory.services import users

    own = Client()
    assert portal_sign_in(own, "adele").status_code == 302
    own.post("/portal/logout/")
    users.set_password(actor=actor, user_id=person.pk, password="Brand-New-Harbor-77", how="admin")
    _fail(Client(), "adele", throttle.ACCOUNT_LIMIT, address="203.0.113.9")
    # the browser knew the old password: the account lock now applies to it too
    assert portal_sign_in(own, "adele", password="Brand-New-Harbor-77").status_code == 429


def test_an_ipv6_client_is_counted_by_its_64_network(make_person: Callable[..., User]) -> None:
    make_person("zoe")
    for n in range(throttle.SOURCE_LIMIT):  # a new address of the same /64 for every guess
        _fail(Client(), "nobody", 1, address=f"2001:db8:1:2::{n + 1:x}")
    assert throttle.source_lock("2001:db8:1:2:ffff::1") is not None
    assert _sign_in(Client(), "zoe", "2001:db8:1:2::abcd").status_code == 429
    assert _sign_in(Client(), "zoe", "2001:db8:1:3::1").status_code == 302
    assert SignInThrottle.objects.get(scope=ThrottleScope.SOURCE).label == "2001:db8:1:2::/64"


def test_the_source_key_edges() -> None:
    assert throttle.source_key("198.51.100.7") == "198.51.100.7"
    assert throttle.source_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert throttle.source_key("2001:db8::1") == "2001:db8::/64"
    assert throttle.source_key("unknown") == "unknown"


def test_a_password_check_on_a_signed_in_page_obeys_the_account_lock(person: User) -> None:
    thief = Client()
    assert portal_sign_in(thief, "adele").status_code == 302
    thief.cookies.pop(devices.COOKIE)  # a session cookie used from another browser
    _fail(Client(), "adele", throttle.ACCOUNT_LIMIT, address="203.0.113.9")
    response = thief.post(
        "/portal/password/",
        {
            "current_password": USER_PASSWORD,
            "new_password": "Other-Copper-Fjord-31",
            "new_password_again": "Other-Copper-Fjord-31",
        },
    )
    assert response.status_code == 200 and "account is locked" in response.content.decode()
    person.refresh_from_db()
    from lockstep.directory.services.passwords import verify_user_password

    assert verify_user_password(person, USER_PASSWORD)


def test_window_expiry_forgets_old_failures(person: User) -> None:
    _fail(Client(), "adele", throttle.ACCOUNT_LIMIT - 1)
    SignInThrottle.objects.update(window_started_at=timezone.now() - throttle.WINDOW - timedelta(seconds=1))
    _fail(Client(), "adele", 1)
    row = SignInThrottle.objects.get(scope=ThrottleScope.ACCOUNT, key=str(person.pk))
    assert row.failures == 1 and row.locked_until is None


def test_clear_releases_the_lock_with_an_audit_entry(person: User, actor: Actor) -> None:
    _fail(Client(), "adele", throttle.ACCOUNT_LIMIT)
    row = SignInThrottle.objects.get(scope=ThrottleScope.ACCOUNT, key=str(person.pk))
    throttle.clear(actor=actor, throttle_id=row.pk)
    assert throttle.locked_until(person) is None
    event = AuditEvent.objects.get(action="portal.clear_sign_in_lock")
    assert event.target_label == "adele" and event.before["failures"] == throttle.ACCOUNT_LIMIT
    assert portal_sign_in(Client(), "adele").status_code == 302


def test_clear_refuses_read_only_and_other_organizations(
    person: User, read_only_actor: Actor, other_org: object
) -> None:
    _fail(Client(), "adele", throttle.ACCOUNT_LIMIT)
    row = SignInThrottle.objects.get(scope=ThrottleScope.ACCOUNT, key=str(person.pk))
    with pytest.raises(PermissionDenied):
        throttle.clear(actor=read_only_actor, throttle_id=row.pk)
    stranger = Actor.system(other_org.pk)  # type: ignore[attr-defined]
    with pytest.raises(NotFound):
        throttle.clear(actor=stranger, throttle_id=row.pk)
    assert throttle.locked_until(person) is not None


def test_wrong_totp_codes_count_against_the_account(person: User) -> None:
    import pyotp

    from lockstep.portal import totp

    secret = totp.begin_enrolment()
    totp.confirm_enrolment(user=person, secret=secret, code=pyotp.TOTP(secret).now())
    client = Client()
    for _ in range(throttle.ACCOUNT_LIMIT):
        assert portal_sign_in(client, "adele").status_code == 302
        client.post("/portal/login/mfa/", {"code": "000000"})
    assert throttle.locked_until(person) is not None


@pytest.mark.parametrize("who", ["nobody", "staged"])
def test_logins_without_a_usable_account_lock_like_real_ones(
    make_person: Callable[..., User], who: str
) -> None:
    """Locking is no oracle: a login naming no account that may sign in answers exactly as a real
    account does, failure for failure."""
    from lockstep.directory.models import UserState

    make_person("staged", state=UserState.STAGED)
    make_person("real")
    answers = {}
    for login in (who, "real"):
        codes = []
        for _ in range(throttle.ACCOUNT_LIMIT + 1):
            response = Client().post(
                "/portal/login/", {"login": login, "password": WRONG}, REMOTE_ADDR=f"192.0.2.{len(login)}"
            )
            codes.append((response.status_code, "account is locked" in response.content.decode()))
        answers[login] = codes
    assert answers[who] == answers["real"]
    assert answers["real"][-2] == (200, False) and answers["real"][-1] == (429, True)


def test_a_wrong_organization_does_not_reveal_a_locked_account(person: User, other_org: object) -> None:
    _fail(Client(), "adele", throttle.ACCOUNT_LIMIT)
    slug = other_org.slug  # type: ignore[attr-defined]
    response = Client().post(
        "/portal/login/",
        {"login": "adele", "password": WRONG, "organization": slug},
        REMOTE_ADDR="192.0.2.50",
    )
    assert response.status_code == 429 and "account is locked" in response.content.decode()


def test_stale_counters_are_forgotten(person: User) -> None:
    _fail(Client(), "adele", 1, address="192.0.2.60")
    old = timezone.now() - throttle.WINDOW - throttle.LOCK - timedelta(seconds=1)
    SignInThrottle.objects.update(last_failure_at=old, locked_until=old)
    _fail(Client(), "nobody", 1, address="192.0.2.61")
    assert set(SignInThrottle.objects.values_list("key", flat=True)) == {"192.0.2.61"}
