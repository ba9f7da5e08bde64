"""Emailed links as a service: only the hash is stored, single use, expiry at its edge, voiding."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.directory.models import User
from lockstep.directory.services import users
from lockstep.portal.models import EmailedLink, LinkPurpose
from lockstep.portal.services import links

pytestmark = pytest.mark.django_db


@pytest.fixture
def adele(actor: Actor) -> User:
    return users.create_user(
        actor=actor, fields={"username": "adele", "email": "adele@contoso.com"}, state="active"
    )


def test_the_token_is_not_stored_only_its_sha256(adele: User) -> None:
    token = links.issue(user=adele, purpose=LinkPurpose.ACTIVATION)
    row = EmailedLink.objects.get()
    assert len(token) >= 43 and token not in str(list(EmailedLink.objects.values()))
    assert row.token_sha256 == links.digest(token) and len(row.token_sha256) == 64
    assert links.url_for(token, LinkPurpose.ACTIVATION).endswith(f"/portal/activate/{token}/")
    assert "/portal/reset/" in links.url_for(token, LinkPurpose.PASSWORD_RESET)


def test_lifetimes_come_from_settings(adele: User, settings: Any) -> None:
    settings.ACTIVATION_LINK_HOURS, settings.RESET_LINK_MINUTES = 168, 60
    links.issue(user=adele, purpose=LinkPurpose.ACTIVATION)
    links.issue(user=adele, purpose=LinkPurpose.PASSWORD_RESET)
    activation, reset = EmailedLink.objects.order_by("pk")
    assert activation.expires_at - activation.created_at == timedelta(hours=168)
    assert reset.expires_at - reset.created_at == timedelta(minutes=60)


def test_a_link_works_once(adele: User) -> None:
    token = links.issue(user=adele, purpose=LinkPurpose.ACTIVATION)
    assert links.consume(token, LinkPurpose.ACTIVATION).user == adele
    with pytest.raises(links.LinkRefused) as refused:
        links.consume(token, LinkPurpose.ACTIVATION)
    assert refused.value.reason == "used" and "already used" in refused.value.message


def test_two_requests_racing_with_one_link_cannot_both_pass(adele: User, monkeypatch: Any) -> None:
    """Both read the link unused; the conditional UPDATE lets only the first one through."""
    token = links.issue(user=adele, purpose=LinkPurpose.ACTIVATION)
    stale = links.peek(token, LinkPurpose.ACTIVATION)  # what the second request read
    links.consume(token, LinkPurpose.ACTIVATION)  # the first request wins
    monkeypatch.setattr(links, "peek", lambda *args, **kwargs: stale)
    with pytest.raises(links.LinkRefused) as refused:
        links.consume(token, LinkPurpose.ACTIVATION)
    assert refused.value.reason == "used"


def test_expiry_edge_valid_one_second_before_refused_one_second_after(adele: User) -> None:
    token = links.issue(user=adele, purpose=LinkPurpose.PASSWORD_RESET)
    expires_at = EmailedLink.objects.get().expires_at
    with pytest.raises(links.LinkRefused) as refused:
        links.consume(token, LinkPurpose.PASSWORD_RESET, now=lambda: expires_at + timedelta(seconds=1))
    assert refused.value.reason == "expired"
    assert f"expired on {expires_at:%Y-%m-%d %H:%M} UTC" in refused.value.message
    link = links.consume(token, LinkPurpose.PASSWORD_RESET, now=lambda: expires_at - timedelta(seconds=1))
    assert link.used_at == expires_at - timedelta(seconds=1)


def test_refused_exactly_at_expiry(adele: User) -> None:
    token = links.issue(user=adele, purpose=LinkPurpose.PASSWORD_RESET)
    expires_at = EmailedLink.objects.get().expires_at
    with pytest.raises(links.LinkRefused):
        links.consume(token, LinkPurpose.PASSWORD_RESET, now=lambda: expires_at)


def test_unknown_token_and_wrong_purpose_are_unknown(adele: User) -> None:
    token = links.issue(user=adele, purpose=LinkPurpose.ACTIVATION)
    for bad, purpose in (("nope", LinkPurpose.ACTIVATION), (token, LinkPurpose.PASSWORD_RESET)):
        with pytest.raises(links.LinkRefused) as refused:
            links.consume(bad, purpose)
        assert refused.value.reason == "unknown"
    assert EmailedLink.objects.get().used_at is None


def test_a_new_link_voids_the_older_unused_one_of_that_purpose(adele: User) -> None:
    first = links.issue(user=adele, purpose=LinkPurpose.ACTIVATION)
    reset = links.issue(user=adele, purpose=LinkPurpose.PASSWORD_RESET)
    second = links.issue(user=adele, purpose=LinkPurpose.ACTIVATION)
    with pytest.raises(links.LinkRefused) as refused:
        links.consume(first, LinkPurpose.ACTIVATION)
    assert refused.value.reason == "used"
    links.consume(second, LinkPurpose.ACTIVATION)
    links.consume(reset, LinkPurpose.PASSWORD_RESET)  # another purpose: untouched


def test_resets_for_two_directories_both_work_until_one_is_used(adele: User) -> None:
    one = links.issue(user=adele, purpose=LinkPurpose.PASSWORD_RESET, directory_id=1)
    two = links.issue(user=adele, purpose=LinkPurpose.PASSWORD_RESET, directory_id=2)
    assert links.peek(one, LinkPurpose.PASSWORD_RESET).directory_id == 1
    links.consume(two, LinkPurpose.PASSWORD_RESET)
    with pytest.raises(links.LinkRefused):  # the password is set: the other one ends too
        links.consume(one, LinkPurpose.PASSWORD_RESET)


def test_a_suspended_user_cannot_use_a_link(adele: User, actor: Actor) -> None:
    token = links.issue(user=adele, purpose=LinkPurpose.ACTIVATION)
    users.change_state(actor=actor, user_id=adele.pk, to_state="suspended")
    with pytest.raises(links.LinkRefused) as refused:
        links.consume(token, LinkPurpose.ACTIVATION)
    assert refused.value.reason == "inactive"
    assert EmailedLink.objects.get().used_at is None


def test_peek_writes_nothing(adele: User) -> None:
    token = links.issue(user=adele, purpose=LinkPurpose.ACTIVATION)
    links.peek(token, LinkPurpose.ACTIVATION)
    links.peek(token, LinkPurpose.ACTIVATION)
    assert EmailedLink.objects.get().used_at is None
    assert timezone.now() < EmailedLink.objects.get().expires_at
