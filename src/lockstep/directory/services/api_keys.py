"""API keys: shown once at creation, stored as a SHA-256 digest (they are high-entropy)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import NotFound, ValidationFailed
from lockstep.directory.models import AdminRole, ApiKey

KEY_PREFIX = "lsk_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


MAX_LIFETIME_DAYS = 3650


@transaction.atomic
def create_api_key(
    *, actor: Actor, name: str, role: str = AdminRole.ADMINISTRATOR, expires_in_days: int | None = None
) -> tuple[ApiKey, str]:
    """Returns the key and its full secret; the secret is never retrievable again.

    Only owners create keys (a key acts for the organization without a person's second factor),
    and a key's role never exceeds its creator's: keys are administrator or read-only, never
    owner. `expires_in_days` (1 to MAX_LIFETIME_DAYS) makes the key stop working then."""
    actor.require_owner()
    name = name.strip()
    errors: dict[str, list[str]] = {}
    if expires_in_days is not None and (
        isinstance(expires_in_days, bool)
        or not isinstance(expires_in_days, int)
        or not 1 <= expires_in_days <= MAX_LIFETIME_DAYS
    ):
        errors["expires_in_days"] = [f"Must be a whole number of days from 1 to {MAX_LIFETIME_DAYS}."]
    if not name:
        errors["name"] = ["This field is required."]
    elif len(name) > 100:
        errors["name"] = ["Must be at most 100 characters."]
    if role not in (AdminRole.ADMINISTRATOR, AdminRole.READ_ONLY):
        errors["role"] = ["Must be administrator or read_only."]
    if errors:
        raise ValidationFailed(errors)
    prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        organization_id=actor.organization_id,
        name=name,
        prefix=prefix,
        digest=_digest(secret),
        role=role,
        created_by_id=int(actor.id) if actor.kind == "admin" and actor.id else None,
        expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    audit.record(
        actor=actor,
        action="api_key.create",
        target_type="api_key",
        target_id=key.pk,
        target_label=name,
        after={
            "name": name,
            "role": role,
            "prefix": prefix,
            "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        },
    )
    return key, secret


def authenticate(secret: str) -> ApiKey | None:
    if not secret.startswith(KEY_PREFIX):
        return None
    prefix = secret[len(KEY_PREFIX) :].split("_", 1)[0]
    key = ApiKey.objects.select_related("created_by").filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.digest, _digest(secret)):
        return None
    now = timezone.now()
    if key.expires_at is not None and key.expires_at <= now:
        return None
    if key.created_by is not None and not key.created_by.is_active:
        return None  # a deactivated administrator's keys stop with them
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def list_api_keys(*, actor: Actor) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(organization_id=actor.organization_id).order_by("-created_at")


def _acting_admin_id(actor: Actor) -> int | None:
    """The administrator an actor acts for: the admin, or the creator of the acting key."""
    if actor.kind == "admin" and actor.id:
        return int(actor.id)
    if actor.kind == "api_key" and actor.id:
        return ApiKey.objects.filter(pk=int(actor.id)).values_list("created_by_id", flat=True).first()
    return None


@transaction.atomic
def revoke_api_key(*, actor: Actor, key_id: int) -> ApiKey:
    """Any writer may revoke keys created by the administrator they act for (a key acts for
    its creator); only owners revoke another administrator's keys."""
    actor.require_write()
    try:
        key = ApiKey.objects.get(pk=key_id, organization_id=actor.organization_id)
    except (ApiKey.DoesNotExist, ValueError):
        raise NotFound("api_key", key_id) from None
    if _acting_admin_id(actor) != key.created_by_id or key.created_by_id is None:
        actor.require_owner()
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit.record(
            actor=actor,
            action="api_key.revoke",
            target_type="api_key",
            target_id=key.pk,
            target_label=key.name,
        )
    return key
