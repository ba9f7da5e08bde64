"""The Lockstep side of a takeover: the user an import creates and the writes binding causes.

`plan_operations` asks the sync engine's own planner (`reconcile.plan_user`) what it will write
once the account is bound, so a plan preview is exactly what the engine will do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lockstep.directory.models import User, UserState
from lockstep.directory.validation import clean_user_fields
from lockstep.m365 import immutable_ids, mapping, reconcile
from lockstep.m365.importer import synced
from lockstep.m365.models import Directory, ImportCandidate

PLACEHOLDER_IMMUTABLE_ID = "(new immutable id)"
USERNAME_MAX = 64
_USERNAME_UNSAFE = re.compile(r"[^A-Za-z0-9.\-_'!#^~]")


def username_base(upn: str) -> str:
    """A username from the UPN's local part (Lockstep's username rules; never empty)."""
    local = _USERNAME_UNSAFE.sub("", upn.split("@", 1)[0])
    local = local.lstrip(".-_'!#^~")
    return (local or "user")[:USERNAME_MAX]


def unique_username(upn: str, organization_id: int) -> str:
    """`username_base(upn)`, with -2, -3 ... appended while another user has it."""
    base = username_base(upn)
    taken = User.objects.filter(organization_id=organization_id)
    candidate, n = base, 1
    while taken.filter(username__iexact=candidate).exists():
        n += 1
        suffix = f"-{n}"
        candidate = base[: USERNAME_MAX - len(suffix)] + suffix
    return candidate


def new_user_fields(candidate: ImportCandidate, username: str) -> dict[str, str]:
    """The fields of the Lockstep user an import creates: everything from the remote account.

    The company email is the UPN (so the sign-in name does not change); names and the
    other attributes are the remote values.
    """
    a = candidate.attributes
    phones = a.get("businessPhones") or []
    return {
        "username": username,
        "email": candidate.upn,
        "first_name": str(a.get("givenName") or ""),
        "last_name": str(a.get("surname") or ""),
        "display_name": str(a.get("displayName") or ""),
        "job_title": str(a.get("jobTitle") or ""),
        "department": str(a.get("department") or ""),
        "business_phone": str(phones[0]) if phones else "",
        "mobile_phone": str(a.get("mobilePhone") or ""),
        "employee_id": str(a.get("employeeId") or ""),
        "usage_location": str(a.get("usageLocation") or ""),
    }


def new_user_state(candidate: ImportCandidate, chosen: str) -> str:
    """A disabled account becomes a suspended user: importing it never enables sign-in."""
    return UserState.SUSPENDED if not candidate.enabled else chosen


def unsaved_user(candidate: ImportCandidate, state: str) -> tuple[User | None, dict[str, list[str]]]:
    """The user an import would create for a `new` candidate (unsaved), or the field errors."""
    cleaned, errors = clean_user_fields(
        new_user_fields(candidate, username_base(candidate.upn)), partial=False
    )
    if errors:
        return None, errors
    if not cleaned.get("display_name"):
        full = f"{cleaned.get('first_name', '')} {cleaned.get('last_name', '')}".strip()
        cleaned["display_name"] = full or cleaned["username"]
    user = User(state=new_user_state(candidate, state), immutable_id=PLACEHOLDER_IMMUTABLE_ID, **cleaned)
    return user, {}


def tracked_properties(directory: Directory) -> list[str]:
    """Graph properties a takeover can change: the sign-in name, the anchor and the managed set."""
    out = ["userPrincipalName", "onPremisesImmutableId", "accountEnabled"]
    return out + [p for p in directory.managed() if p not in out]


def last_known(
    candidate: ImportCandidate, directory: Directory, desired: reconcile.DesiredUser
) -> dict[str, Any]:
    """The binding's starting `last_applied`: the remote values, so the engine writes only real differences.

    A UPN equal but for letter case counts as equal (Entra compares UPNs case-insensitively).
    """
    a = candidate.attributes
    known: dict[str, Any] = {p: a.get(p) for p in tracked_properties(directory)}
    known["userPrincipalName"] = candidate.upn
    known["accountEnabled"] = candidate.enabled
    if candidate.upn.lower() == desired.user_principal_name.lower():
        known["userPrincipalName"] = desired.user_principal_name
    known["businessPhones"] = list(a.get("businessPhones") or [])
    return known


def _preview_password() -> str:
    """A plan preview never holds a real password (an import creates no account; a UPN moving
    out of a federated domain gets a random one when the engine plans it)."""
    return "(random password)"


def federated_domains(directory: Directory) -> set[str]:
    return set(directory.domains.filter(authentication_type="Federated").values_list("name", flat=True))


def verified_domains(directory: Directory) -> set[str]:
    return set(directory.domains.filter(is_verified=True).values_list("name", flat=True))


def plan_operations(
    candidate: ImportCandidate, directory: Directory, user: User, *, federated: set[str]
) -> tuple[list[reconcile.Operation], dict[str, Any]]:
    """The writes the sync engine makes after binding `user` to the candidate's account.

    The account's own onPremisesImmutableId stays: the user takes it over (`immutable_ids`).
    """
    desired = mapping.desired_user(user)
    desired = replace(desired, immutable_id=immutable_ids.kept(user, candidate.attributes))
    known = last_known(candidate, directory, desired)
    operations = reconcile.plan_user(
        desired=desired,
        remote_id=candidate.remote_id,
        last_known=known,
        managed=directory.managed(),
        password=None,
        random_password=_preview_password,
        federated=mapping.email_domain(user.email) in federated,
        federated_before=mapping.email_domain(candidate.upn) in federated,
    )
    return operations, known


@dataclass(frozen=True)
class AttributeChange:
    """One Graph property: the current remote value and the value Lockstep will write."""

    property: str
    current: Any
    planned: Any
    changes: bool


def attribute_changes(
    candidate: ImportCandidate, directory: Directory, operations: Sequence[reconcile.Operation]
) -> list[AttributeChange]:
    patch: dict[str, Any] = {}
    for operation in operations:
        if operation.kind == "update_user" and operation.body:
            patch.update(operation.body)
    current = {
        **candidate.attributes,
        "userPrincipalName": candidate.upn,
        "accountEnabled": candidate.enabled,
    }
    out = []
    for prop in tracked_properties(directory):
        now = current.get(prop)
        if prop == "businessPhones":
            now = list(now or [])
        out.append(AttributeChange(prop, now, patch.get(prop, now), prop in patch))
    return out


@dataclass
class Eligibility:
    """Why a candidate would be skipped by an import with these options ("" if it would not)."""

    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons


def eligibility(
    candidate: ImportCandidate, *, confirm_admins: bool, include_unlicensed: bool, include_disabled: bool
) -> Eligibility:
    """Why an import skips the candidate. An account synced from on-premises AD is always
    skipped, whatever the options: its source of authority is Entra Connect, which would undo
    (or refuse) every change Lockstep makes, so no option adopts it silently."""
    result = Eligibility()
    if synced(candidate):
        result.reasons.append(mapping.SYNCED_FROM_ON_PREMISES)
    if candidate.admin and not confirm_admins:
        result.reasons.append(
            "Holds an Entra admin role: admin-role holders are imported only with explicit confirmation."
        )
    if not candidate.licensed and not include_unlicensed:
        result.reasons.append("Unlicensed: imported only when unlicensed accounts are included.")
    if not candidate.enabled and not include_disabled:
        result.reasons.append(
            "Sign-in is blocked (disabled): imported only when disabled accounts are included."
        )
    return result
