"""Finding users: the filters shared by the Users page, its CSV export and the REST API, keyset
pages for the API, and the values the department and domain filters offer."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from lockstep.directory import search_index
from lockstep.directory.actors import Actor
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import User, UserState

SEARCH_MAX = 200
CHOICES_MAX = 500  # distinct departments or domains offered in a filter
# A cursor holds one sort value (a name of at most 256 characters, even fully \u-escaped) and an id.
CURSOR_MAX = 16384


@dataclass(frozen=True)
class UserPage:
    items: list[User]
    next_cursor: str | None


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """The values of a cursor `encode_cursor` made; anything else (too long, not base64 or JSON,
    nested deeper than Python's parser recurses) is a 422, never a 500."""
    if len(cursor) > CURSOR_MAX:
        raise ValidationFailed({"cursor": ["Not a cursor this API returned."]})
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError, RecursionError):
        raise ValidationFailed({"cursor": ["Not a cursor this API returned."]}) from None
    if not isinstance(values, list) or len(values) != 2 or not all(map(_storable, values)):
        raise ValidationFailed({"cursor": ["Not a cursor this API returned."]})
    return values


def _storable(value: Any) -> bool:
    """No NUL (PostgreSQL refuses it) nor lone surrogate (no database encodes it) in a cursor's text."""
    if not isinstance(value, str):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def normalise_domain(domain: str) -> str:
    """`@Contoso.com ` and `contoso.com` name the same email domain."""
    return domain.strip().lstrip("@").lower()


def filter_users(
    *,
    actor: Actor,
    state: str | None = None,
    email: str | None = None,
    group_id: int | None = None,
    search: str | None = None,
    department: str | None = None,
    domain: str | None = None,
    many: bool = False,
) -> QuerySet[User]:
    """The actor's users matching every filter given (`many`: thousands are known to match, see
    `search_index.matching`).

    `search` matches any part of the username, display, first or last name or company email,
    whatever the case ("owen" finds Megan Bowen); `department` is the exact department;
    `domain` the company email's domain.
    """
    errors: dict[str, list[str]] = {}
    queryset = User.objects.filter(organization_id=actor.organization_id)
    if state:
        if state not in UserState.values:
            errors["state"] = [f"Must be one of: {', '.join(UserState.values)}."]
        queryset = queryset.filter(state=state)
    if email:
        queryset = queryset.filter(email=email.strip().lower())
    if group_id is not None:
        queryset = queryset.filter(
            groupmembership__group_id=group_id, groupmembership__group__organization_id=actor.organization_id
        )
    if department:
        queryset = queryset.filter(department=department.strip())
    if domain:
        queryset = queryset.filter(email_domain=normalise_domain(domain))  # type: ignore[misc]  # GeneratedField
    if search and search.strip():
        if len(search.strip()) > SEARCH_MAX:
            errors["search"] = [f"At most {SEARCH_MAX} characters."]
        queryset = search_index.matching(queryset, search, many=many)
    if errors:
        raise ValidationFailed(errors)
    return queryset


def page_after(queryset: QuerySet[User], *, cursor: str | None = None, limit: int = 50) -> UserPage:
    """Keyset pagination ordered by username: constant cost per page at any size."""
    if not 1 <= limit <= 500:
        raise ValidationFailed({"limit": ["Must be between 1 and 500."]})
    if cursor:
        last_username, last_id = decode_cursor(cursor)
        queryset = queryset.filter(Q(username__gt=last_username) | Q(username=last_username, id__gt=last_id))
    items = list(queryset.order_by("username", "id")[: limit + 1])
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = encode_cursor([items[-1].username, items[-1].pk])
    return UserPage(items=items, next_cursor=next_cursor)


def list_users(
    *,
    actor: Actor,
    state: str | None = None,
    email: str | None = None,
    group_id: int | None = None,
    search: str | None = None,
    department: str | None = None,
    domain: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> UserPage:
    queryset = filter_users(
        actor=actor,
        state=state,
        email=email,
        group_id=group_id,
        search=search,
        department=department,
        domain=domain,
    )
    return page_after(queryset, cursor=cursor, limit=limit)


def departments(*, actor: Actor) -> list[str]:
    """The departments the actor's users are in, A to Z (the department filter's choices)."""
    values = (
        User.objects.filter(organization_id=actor.organization_id)
        .exclude(department="")
        .order_by("department")
        .values_list("department", flat=True)
        .distinct()
    )
    return list(values[:CHOICES_MAX])


def email_domains(*, actor: Actor) -> list[str]:
    """The domains of the actor's users' company emails, A to Z (the domain filter's choices)."""
    users: QuerySet[Any] = User.objects.filter(
        organization_id=actor.organization_id
    )  # stubs miss GeneratedField
    values = users.order_by("email_domain").values_list("email_domain", flat=True).distinct()
    return list(values[:CHOICES_MAX])
