"""Bulk bind, unbind and suspend against m365sim: per-user refusals, audit rows, the effect in words, the sync."""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.console import bulk_words
from lockstep.directory.actors import Actor
from lockstep.directory.models import AuditEvent, User
from lockstep.directory.services import bulk, groups, users
from lockstep.m365.models import Directory, UserBinding
from lockstep.m365.services import bindings, bulk_bindings
from lockstep.testing.m365 import sync_until_settled
from m365sim.testing import SimServer


def new_user(actor: Actor, username: str, domain: str = "contoso.com") -> User:
    return users.create_user(
        actor=actor, fields={"username": username, "email": f"{username}@{domain}", "last_name": "Bulk"}
    )


def remote(sim: SimServer, upn: str) -> dict[str, Any] | None:
    return sim.sim.tenant.find_user(upn)


def test_bulk_bind_skips_foreign_domains_and_already_bound(directory: Directory, actor: Actor) -> None:
    ann, ben, out, old = (
        new_user(actor, "ann"),
        new_user(actor, "ben"),
        new_user(actor, "out", "fabrikam.example"),
        new_user(actor, "old"),
    )
    bindings.bind_user(actor=actor, user_id=old.pk, directory_id=directory.pk)
    ids = [ann.pk, ben.pk, out.pk, old.pk]
    plan = bulk_bindings.plan_bind_users(actor=actor, user_ids=ids, directory_id=directory.pk)
    assert [u.username for u in plan.changing] == ["ann", "ben"]
    reasons = {s.username: s.reason for s in plan.skipped}
    assert reasons["old"] == "Already bound to Contoso 365."
    assert reasons["out"].startswith("The company email's domain fabrikam.example is not a verified domain")
    words = bulk_words.bind_words(directory, plan)
    assert words[0].startswith("Binding 2 users to Microsoft 365 (Contoso 365, contoso.com)")

    result = bulk_bindings.bind_users(actor=actor, user_ids=ids, directory_id=directory.pk)
    assert sorted(result.changed) == sorted([ann.pk, ben.pk])
    assert set(UserBinding.objects.values_list("user__username", flat=True)) == {"ann", "ben", "old"}
    assert sorted(AuditEvent.objects.filter(action="user.bind").values_list("target_label", flat=True)) == [
        "ann",
        "ben",
        "old",
    ]


def test_bulk_suspend_words_and_sync_block_sign_in(
    directory: Directory, actor: Actor, sim: SimServer
) -> None:
    people = [new_user(actor, name) for name in ("kim", "lee", "max")]
    bulk_bindings.bind_users(actor=actor, user_ids=[p.pk for p in people[:2]], directory_id=directory.pk)
    sync_until_settled()
    ids = [p.pk for p in people]
    plan = bulk.plan_state_change(actor=actor, user_ids=ids, to_state="suspended")
    words = bulk_words.state_words(actor, "suspended", plan)
    assert words[0] == (
        "Suspending 3 users blocks the 2 bound ones' sign-in to Microsoft 365 (Contoso 365, contoso.com) "
        "within seconds and revokes their sessions; 1 is not bound and is only suspended in Lockstep."
    )
    bulk.change_states(actor=actor, user_ids=ids, to_state="suspended")
    sync_until_settled()
    for name in ("kim", "lee"):
        account = remote(sim, f"{name}@contoso.com")
        assert account is not None and account["accountEnabled"] is False
    assert remote(sim, "max@contoso.com") is None


def test_brake_warning_when_disables_exceed_it(directory: Directory, actor: Actor) -> None:
    people = [new_user(actor, f"b{n:02d}") for n in range(12)]
    bulk_bindings.bind_users(actor=actor, user_ids=[p.pk for p in people], directory_id=directory.pk)
    plan = bulk.plan_state_change(actor=actor, user_ids=[p.pk for p in people], to_state="suspended")
    words = bulk_words.state_words(actor, "suspended", plan)
    assert words[0].startswith(
        "Suspending 12 users blocks their sign-in to Microsoft 365 (Contoso 365, contoso.com)"
    )
    assert any("deletion brake lets at most 10 accounts" in w for w in words)


def test_bulk_unbind_and_group_words(directory: Directory, actor: Actor) -> None:
    ann, ben = new_user(actor, "ann"), new_user(actor, "ben")
    bindings.bind_user(actor=actor, user_id=ann.pk, directory_id=directory.pk)
    group = groups.create_group(actor=actor, fields={"name": "Retail"})
    bindings.bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    plan = bulk.plan_add_to_group(actor=actor, user_ids=[ann.pk, ben.pk], group_id=group.pk)
    assert bulk_words.group_words(actor, group, plan)[1] == (
        "In Microsoft 365 (Contoso 365, contoso.com) the 1 of them bound there join the security group Retail "
        "within seconds; the other 1 is not bound there and joins in Lockstep only."
    )
    result = bulk_bindings.unbind_users(actor=actor, user_ids=[ann.pk, ben.pk], directory_id=directory.pk)
    assert result.changed == [ann.pk]
    assert [s.reason for s in result.skipped] == ["Not bound to Contoso 365."]
    assert UserBinding.objects.get(user=ann).unbound is True
    assert AuditEvent.objects.filter(action="user.unbind", target_label="ann").count() == 1


def test_read_only_admin_cannot_bind_or_unbind(
    directory: Directory, actor: Actor, read_only_actor: Actor
) -> None:
    ann = new_user(actor, "ann")
    with pytest.raises(Exception, match="read-only"):
        bulk_bindings.bind_users(actor=read_only_actor, user_ids=[ann.pk], directory_id=directory.pk)
    with pytest.raises(Exception, match="read-only"):
        bulk_bindings.unbind_users(actor=read_only_actor, user_ids=[ann.pk], directory_id=directory.pk)
    assert not UserBinding.objects.exists()
