"""API keys: shown once at creation, stored as a SHA-256 digest (they are high-entropy)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

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


@transaction.atomic
def create_api_key(*, actor: Actor, name: str, role: str = AdminRole.ADMINISTRATOR) -> tuple[ApiKey, str]:
    """Returns the key and its full secret; the secret is never retrievable again."""
    actor.require_write()
    name = name.strip()
    errors: dict[str, list[str]] = {}
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
    )
    audit.record(
        actor=actor,
        action="api_key.create",
        target_type="api_key",
        target_id=key.pk,
        target_label=name,
        after={"name": name, "role": role, "prefix": prefix},
    )
    return key, secret


def authenticate(secret: str) -> ApiKey | None:
    if not secret.startswith(KEY_PREFIX):
        return None
    prefix = secret[len(KEY_PREFIX) :].split("_", 1)[0]
    key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.digest, _digest(secret)):
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def list_api_keys(*, actor: Actor) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(organization_id=actor.organization_id).order_by("-created_at")


@transaction.atomic
def revoke_api_key(*, actor: Actor, key_id: int) -> ApiKey:
    actor.require_write()
    try:
        key = ApiKey.objects.get(pk=key_id, organization_id=actor.organization_id)
    except (ApiKey.DoesNotExist, ValueError):
        raise NotFound("api_key", key_id) from None
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
