"""What the User Portal shows a user about their Microsoft 365 accounts (SPEC 4): each bound
directory with its sync status and its password status in plain words, the one-time notice
after the first password sync, and where to sign in to Microsoft 365."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from lockstep.directory.models import User
from lockstep.m365 import password_status
from lockstep.m365.health import user_binding_health
from lockstep.m365.models import Cloud, SyncStatus, UserBinding

SIGN_IN_URLS = {
    Cloud.GLOBAL: "https://www.office.com/login",
    Cloud.US_GOV: "https://portal.office365.us/",
    Cloud.US_DOD: "https://portal.apps.mil/",
    Cloud.CHINA: "https://portal.partner.microsoftonline.cn/",
}


@dataclass(frozen=True)
class BoundDirectory:
    name: str
    account: str  # the Microsoft 365 sign-in name (UPN)
    sync_words: str
    password_words: str
    sign_in_url: str


# The sync status as a user reads it (the account's attributes, not the password).
SYNC_WORDS = {
    SyncStatus.PENDING: "Changes on their way",
    SyncStatus.SYNCED: "In sync",
    SyncStatus.WAITING_LOGIN: "Waiting for your first sign-in",
    SyncStatus.ERROR: "Not in sync: your administrator can see why",
    SyncStatus.NOT_SYNCED: "Not synced: your email address is not one of this directory's domains",
    SyncStatus.HELD: "Waiting for your administrator",
    SyncStatus.RESTORE_OFFERED: "Waiting for your administrator",
}


def _password_words(binding: UserBinding, facts: password_status.DirectoryFacts) -> str:
    state = password_status.password_state(binding, facts)
    return password_status.user_words(binding, state, facts)


def _sign_in_url(binding: UserBinding) -> str:
    directory = binding.directory
    if directory.cloud == Cloud.CUSTOM and directory.login_base_url:
        return directory.login_base_url.rstrip("/") + "/"
    return SIGN_IN_URLS.get(Cloud(directory.cloud), SIGN_IN_URLS[Cloud.GLOBAL])


def bound_directories(user: User) -> list[BoundDirectory]:
    rows = []
    bindings = list(
        UserBinding.objects.filter(user=user, unbound=False)
        .select_related("directory", "user__organization")
        .order_by("directory__name")
    )
    takeover = bool(user.organization.password_takeover)
    facts = password_status.facts_for([b.directory_id for b in bindings], takeover)
    for binding in bindings:
        health = user_binding_health(binding, facts[binding.directory_id])
        rows.append(
            BoundDirectory(
                name=binding.directory.name,
                account=binding.remote_upn or user.email,
                sync_words=SYNC_WORDS.get(SyncStatus(health.status), SyncStatus(health.status).label),
                password_words=_password_words(binding, facts[binding.directory_id]),
                sign_in_url=_sign_in_url(binding),
            )
        )
    return rows


@transaction.atomic
def take_first_sync_notice(user: User) -> list[str]:
    """The directories whose first password delivery the user has not been told of yet; telling
    clears them (the notice shows once)."""
    pending = UserBinding.objects.select_for_update().filter(user=user, first_sync_notice_pending=True)
    names = sorted(pending.values_list("directory__name", flat=True))
    pending.update(first_sync_notice_pending=False)
    return names
