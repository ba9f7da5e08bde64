"""Who is acting: every service call takes an Actor, scoped to one organization."""

from __future__ import annotations

from dataclasses import dataclass

from lockstep.directory.errors import PermissionDenied
from lockstep.directory.models import ActorKind, Administrator, AdminRole, ApiKey, User


@dataclass(frozen=True)
class Actor:
    kind: str
    organization_id: int
    role: str
    id: str = ""
    label: str = ""

    @property
    def can_write(self) -> bool:
        return self.role in (AdminRole.OWNER, AdminRole.ADMINISTRATOR)

    @property
    def is_owner(self) -> bool:
        return self.role == AdminRole.OWNER

    def require_write(self) -> None:
        if not self.can_write:
            raise PermissionDenied("This account is read-only.")

    def require_owner(self) -> None:
        if not self.is_owner:
            raise PermissionDenied("Only an owner can do this.")

    @classmethod
    def for_admin(cls, admin: Administrator) -> Actor:
        return cls(ActorKind.ADMIN, admin.organization_id, admin.role, str(admin.pk), admin.email)

    @classmethod
    def for_api_key(cls, key: ApiKey) -> Actor:
        return cls(ActorKind.API_KEY, key.organization_id, key.role, str(key.pk), f"API key {key.name}")

    @classmethod
    def for_user(cls, user: User) -> Actor:
        """A directory user acting on their own account in the User Portal: read-only for
        everything else (the services check the user id where a user may write)."""
        return cls(ActorKind.USER, user.organization_id, AdminRole.READ_ONLY, str(user.pk), user.username)

    @classmethod
    def system(cls, organization_id: int, label: str = "Lockstep") -> Actor:
        return cls(ActorKind.SYSTEM, organization_id, AdminRole.OWNER, "", label)
