"""Taking over an account keeps its `onPremisesImmutableId`.

When Lockstep takes over an existing Microsoft 365 account (an import, or a bind that adopts
the account already holding the address), an immutable id the account already carries is the
anchor of existing hard matches (Entra Connect) and federation (the SAML NameID), so Lockstep
never overwrites it: the Lockstep user's immutable id becomes the account's value. An account
without one gets Lockstep's, as before.

A Lockstep user has exactly one immutable id (its SAML NameID and the onPremisesImmutableId of
every account it is bound to), so a takeover is refused, with the reason in plain words, when
- another Lockstep user already has that immutable id (two users never share one), or
- the user is bound to another directory whose account carries a different immutable id
  (unbind one, or make the two accounts' values equal in Microsoft 365), or
- the value is longer than Lockstep's 64 characters.
The check runs again under a lock on the user row when the takeover is written, so a clash
found late still refuses the whole takeover and never leaves it half written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict
from lockstep.directory.models import IssuedImmutableId, User
from lockstep.m365.models import Directory, UserBinding

FIELD = "onPremisesImmutableId"
MAX_LENGTH = 64  # User.immutable_id


def account_value(account: Mapping[str, Any]) -> str:
    """The account's onPremisesImmutableId ("" when it has none)."""
    return str(account.get(FIELD) or "")


def kept(user: User, account: Mapping[str, Any]) -> str:
    """The immutable id `user` has once it has taken the account over (when that is allowed)."""
    return account_value(account) or user.immutable_id


@dataclass
class TakeoverCheck:
    """What a takeover of accounts in `directory` must not clash with, loaded in two queries."""

    directory: Directory
    owners: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # id -> (user, org, username)
    elsewhere: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # user -> [(directory, id)]

    @classmethod
    def load(cls, directory: Directory, values: Iterable[str], user_ids: Iterable[int]) -> TakeoverCheck:
        check = cls(directory)
        wanted = {v for v in values if v}
        if wanted:
            for value, pk, org, username in User.objects.filter(immutable_id__in=wanted).values_list(
                "immutable_id", "pk", "organization_id", "username"
            ):
                check.owners[value] = (pk, org, username)
        ids = [i for i in user_ids if i]
        if ids:
            others = (
                UserBinding.objects.filter(user_id__in=ids, unbound=False)
                .exclude(directory=directory)
                .exclude(remote_id="")
                .values_list("user_id", "directory__name", "last_applied", "user__immutable_id")
            )
            for user_id, name, last_applied, current in others:
                carried = str((last_applied or {}).get(FIELD) or current)
                check.elsewhere.setdefault(user_id, []).append((name, carried))
        return check

    def problem(self, user: User, value: str) -> str:
        """Why `user` (unsaved for a user an import creates) cannot take `value` over ("" if it can)."""
        if not value or value == user.immutable_id:
            return ""
        if len(value) > MAX_LENGTH:
            return (
                f"The account's onPremisesImmutableId is {len(value)} characters long; a Lockstep immutable "
                f"id has at most {MAX_LENGTH}, so Lockstep cannot keep it."
            )
        owner = self.owners.get(value)
        if owner is not None and owner[0] != user.pk:
            who = owner[2] if owner[1] == self.directory.organization_id else "another organization's user"
            return (
                f"The account's onPremisesImmutableId {value} is already the immutable id of the Lockstep "
                f"user {who}: two users cannot share one. Change it on one of the two accounts in "
                "Microsoft 365, then try again."
            )
        for name, carried in self.elsewhere.get(user.pk or 0, []):
            if carried != value:
                return (
                    f"{user.username} is also bound to {name}, whose account carries the immutable id "
                    f"{carried}; this account carries {value}. A Lockstep user has one immutable id: "
                    "unbind one of the two, or make both accounts' onPremisesImmutableId equal in "
                    "Microsoft 365."
                )
        return ""


def take_over(*, actor: Actor, user: User, directory: Directory, account: Mapping[str, Any]) -> str:
    """Give `user` the account's immutable id; returns the user's id it replaced ("" if none was).

    Nothing to do when the account has none or the same.

    Raises `Conflict` on the field `onPremisesImmutableId` when the takeover is refused.
    Call it inside the transaction that binds the account, so a refusal undoes the takeover.
    """
    value = account_value(account)
    if not value or value == user.immutable_id:
        return ""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        problem = TakeoverCheck.load(directory, [value], [locked.pk]).problem(locked, value)
        if problem:
            raise Conflict(FIELD, problem)
        before = locked.immutable_id
        try:
            with transaction.atomic():
                IssuedImmutableId.objects.get_or_create(value=value)
                User.objects.filter(pk=locked.pk).update(immutable_id=value)
        except IntegrityError:  # another user took the value meanwhile
            raise Conflict(FIELD, f"The immutable id {value} was just given to another user.") from None
        user.immutable_id = value
        audit.record(
            actor=actor,
            action="user.immutable_id.keep",
            target_type="user",
            target_id=user.pk,
            target_label=user.username,
            before={"immutable_id": before},
            after={
                "immutable_id": value,
                "directory": directory.name,
                "remote_id": str(account.get("id", "")),
            },
        )
    return before


def give_back(*, actor: Actor, user: User, own: str) -> None:
    """Undo a takeover: the user gets its own immutable id back; its other accounts are rewritten."""
    kept = user.immutable_id
    if not own or own == kept:
        return
    if User.objects.filter(pk=user.pk, immutable_id=kept).update(immutable_id=own) == 0:
        return  # changed meanwhile: leave it
    user.immutable_id = own
    UserBinding.objects.filter(user=user, unbound=False).update(
        desired_version=F("desired_version") + 1, changed_at=timezone.now(), retry_at=None
    )
    audit.record(
        actor=actor,
        action="user.immutable_id.give_back",
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        before={"immutable_id": kept},
        after={"immutable_id": own},
    )
