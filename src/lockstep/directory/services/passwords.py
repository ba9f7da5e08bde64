"""Password checks and hashing shared by every flow that sets a password."""

from __future__ import annotations

from django.contrib.auth.hashers import check_password as check_hash
from django.contrib.auth.hashers import make_password

from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import Organization, User
from lockstep.directory.password_policy import PasswordPolicy, check_password


def policy_for(organization: Organization) -> PasswordPolicy:
    terms = tuple(t.strip() for t in organization.password_banned_terms.splitlines() if t.strip())
    return PasswordPolicy(
        min_length=organization.password_min_length,
        min_classes=organization.password_min_classes,
        extra_banned_terms=terms,
    )


def require_acceptable(
    password: str,
    *,
    organization: Organization,
    field: str = "password",
    first_name: str = "",
    last_name: str = "",
    username: str = "",
    email: str = "",
) -> None:
    """Raise ValidationFailed listing every rule the password breaks."""
    violations = check_password(
        password,
        policy=policy_for(organization),
        first_name=first_name,
        last_name=last_name,
        username=username,
        email=email,
        organization_name=organization.name,
    )
    if violations:
        raise ValidationFailed({field: [v.message for v in violations]})


def hash_password(password: str) -> str:
    return make_password(password)


def verify_user_password(user: User, password: str) -> bool:
    return bool(user.password_hash) and check_hash(password, user.password_hash)
