"""The list status categories: the database filter and the rule for loaded rows agree on every
stored status, with or without a change waiting, bound or being unbound."""

from __future__ import annotations

import itertools

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.models import User
from lockstep.m365 import list_status
from lockstep.m365.list_status import ListStatus
from lockstep.m365.models import Directory, SyncStatus, UserBinding

pytestmark = pytest.mark.django_db


def test_filter_and_row_rule_agree_for_every_binding(actor: Actor) -> None:
    tenant = Directory.objects.create(
        organization_id=actor.organization_id,
        name="Contoso",
        tenant_id="t",
        client_id="c",
        credential_kind="secret",
    )
    expected: dict[str, set[int]] = {status: set() for status in ListStatus.values}
    for n, (status, dirty, unbound) in enumerate(
        itertools.product(SyncStatus.values, (False, True), (False, True))
    ):
        user = User.objects.create(
            organization_id=actor.organization_id,
            username=f"u{n}",
            email=f"u{n}@contoso.com",
            display_name=f"U {n}",
            immutable_id=f"u{n}-immutable",
        )
        UserBinding.objects.create(
            directory=tenant,
            user=user,
            status=status,
            desired_version=2 if dirty else 1,
            applied_version=1,
            unbound=unbound,
        )
        expected[list_status.category(status, dirty=dirty, unbound=unbound)].add(user.pk)
    User.objects.create(
        organization_id=actor.organization_id,
        username="free",
        email="free@contoso.com",
        display_name="Free",
        immutable_id="free-i",
    )
    everyone = User.objects.filter(organization_id=actor.organization_id)
    for status in ListStatus.values:
        found = list_status.filter_users(everyone, organization_id=actor.organization_id, status=status)
        if status == ListStatus.UNBOUND:
            assert list(found.values_list("username", flat=True)) == ["free"]
        else:
            assert set(found.values_list("pk", flat=True)) == expected[status], status
    assert not expected[ListStatus.UNBOUND]
