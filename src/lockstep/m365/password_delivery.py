"""Which bindings a password is held for, and its erasure (SPEC 3).

A password is held encrypted (one `PendingPassword` per user: a newer password replaces an older
one for every binding still waiting) and marked `password_pending` on the bindings it goes to:
- `password_set` (any flow): every live binding whose account can take a password;
- `password_presented` (a correct User Portal sign-in), with the organization's password takeover
  on: only the live bindings that have never received a Lockstep password since they were bound
  (or whose held password expired); takeover off: nothing.
An account can take a password when the user's email domain is a verified, non-federated domain
of the tenant: a federated domain signs in through Lockstep, another tenant's domain is not synced.
The plaintext is erased once no binding waits for it, or when it expires
(`settings.PASSWORD_HOLD_HOURS`, `expire_held_passwords`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from lockstep.directory import crypto
from lockstep.directory.models import Organization, User
from lockstep.m365 import lanes, mapping, wakeup
from lockstep.m365.models import DirectoryDomain, PendingPassword, UserBinding

FEDERATED = "Federated"
ID_CHUNK = 500


def password_context(user_id: int) -> str:
    return f"user:{user_id}:pending-password"


def hold_for() -> timedelta:
    """How long a password waits for delivery before it is erased."""
    return timedelta(hours=float(settings.PASSWORD_HOLD_HOURS))


def deliverable_q(email: str) -> Q:
    """Bindings whose tenant has the email's domain verified and not federated."""
    domain = mapping.email_domain(email)
    managed = DirectoryDomain.objects.filter(
        directory_id=OuterRef("directory_id"), name=domain, is_verified=True
    )
    return Q(Exists(managed.exclude(authentication_type=FEDERATED)))


def _hold(user: User, password: str, targets: QuerySet[UserBinding], *, keep_unbound_row: bool) -> int:
    """Encrypt the password and mark `targets` pending (their desired version bumped)."""
    now = timezone.now()
    target_ids = list(targets.values_list("id", flat=True))
    live = UserBinding.objects.filter(user_id=user.pk, unbound=False)
    if not target_ids:
        if keep_unbound_row and not live.exists():
            # not bound yet: an initial password waits for the binding made next (`bind_user`)
            _store(user.pk, password, now)
        else:
            forget_if_delivered([user.pk])
        return 0
    _store(user.pk, password, now)
    UserBinding.objects.filter(id__in=target_ids).update(
        password_pending=True,
        password_expired_at=None,
        desired_version=F("desired_version") + 1,
        changed_at=now,
        retry_at=None,
        attempts=0,
        **lanes.interactive(),  # one user's password, set or typed by hand
    )
    transaction.on_commit(wakeup.notify)
    return len(target_ids)


def _store(user_id: int, password: str, now: datetime) -> None:
    ciphertext = crypto.encrypt(password, context=password_context(user_id))
    PendingPassword.objects.update_or_create(
        user_id=user_id,
        defaults={"ciphertext": ciphertext, "created_at": now, "expires_at": now + hold_for()},
    )


def hold_set_password(*, user_id: int, password: str) -> int:
    """A new password (admin, change, reset, activation): every account that can take it gets it."""
    user = User.objects.only("id", "email").get(pk=user_id)
    live = UserBinding.objects.filter(user_id=user_id, unbound=False)
    # an account that cannot take a password never waits for one (federated, another tenant's domain)
    live.exclude(deliverable_q(user.email)).filter(password_pending=True).update(password_pending=False)
    return _hold(user, password, live.filter(deliverable_q(user.email)), keep_unbound_row=True)


def hold_presented_password(*, organization_id: int, user_id: int, password: str) -> int:
    """A correct User Portal sign-in: with takeover on, the accounts that never got a Lockstep
    password since they were bound (or whose held password expired) get it; else nothing."""
    takeover = (
        Organization.objects.filter(pk=organization_id).values_list("password_takeover", flat=True).first()
    )
    if not takeover:
        return 0
    user = User.objects.only("id", "email").get(pk=user_id, organization_id=organization_id)
    targets = UserBinding.objects.filter(user_id=user_id, unbound=False, password_pending=False).filter(
        Q(password_synced_at__isnull=True) | Q(password_expired_at__isnull=False)
    )
    targets = targets.filter(deliverable_q(user.email))
    if not targets.exists():
        return 0  # nothing to send: the plaintext is not even encrypted
    return _hold(user, password, targets, keep_unbound_row=False)


def forget_if_delivered(user_ids: Iterable[int]) -> int:
    """Erase the held passwords no binding waits for any more."""
    ids = sorted(set(user_ids))
    erased = 0
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        waiting = UserBinding.objects.filter(user_id=OuterRef("user_id"), password_pending=True)
        erased += PendingPassword.objects.filter(user_id__in=chunk).filter(~Exists(waiting)).delete()[0]
    return erased


@transaction.atomic
def expire_held_passwords(*, now: datetime | None = None) -> int:
    """Erase the held passwords past their time; their bindings say the password expired."""
    now = now or timezone.now()
    user_ids = list(PendingPassword.objects.filter(expires_at__lte=now).values_list("user_id", flat=True))
    for start in range(0, len(user_ids), ID_CHUNK):
        chunk = user_ids[start : start + ID_CHUNK]
        UserBinding.objects.filter(user_id__in=chunk, password_pending=True).update(
            password_pending=False, password_expired_at=now
        )
        PendingPassword.objects.filter(user_id__in=chunk, expires_at__lte=now).delete()
    return len(user_ids)
