"""What the User Portal shows a user about their Microsoft 365 accounts (SPEC 4): each bound
directory with its sync status and its password status in plain words, the one-time notice
after the first password sync, and where to sign in to Microsoft 365."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from lockstep.directory.models import User
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


def _password_words(binding: UserBinding) -> str:
    if binding.password_synced_at is not None:
        return f"Your password was last sent to Microsoft 365 on {binding.password_synced_at:%Y-%m-%d %H:%M} UTC."
    if binding.password_pending:
        return "Your password is on its way to Microsoft 365."
    return "Your Lockstep password has not been sent to Microsoft 365 yet."


def _sign_in_url(binding: UserBinding) -> str:
    directory = binding.directory
    if directory.cloud == Cloud.CUSTOM and directory.login_base_url:
        return directory.login_base_url.rstrip("/") + "/"
    return SIGN_IN_URLS.get(Cloud(directory.cloud), SIGN_IN_URLS[Cloud.GLOBAL])


def bound_directories(user: User) -> list[BoundDirectory]:
    rows = []
    bindings = UserBinding.objects.filter(user=user, unbound=False).select_related("directory", "user")
    for binding in bindings.order_by("directory__name"):
        health = user_binding_health(binding)
        rows.append(
            BoundDirectory(
                name=binding.directory.name,
                account=binding.remote_upn or user.email,
                sync_words=SyncStatus(health.status).label,
                password_words=_password_words(binding),
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
