"""Pure planning: desired state + last known remote state -> the Graph writes to make.

No I/O and no Django: every function here is a plain computation, unit-tested on its own.
`apply.py` executes the plan and records what was applied, which becomes the next
"last known remote state" (drift detected through delta queries updates it too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

OperationKind = Literal[
    "create_user",
    "update_user",
    "set_password",
    "revoke_sessions",
    "create_group",
    "update_group",
    "add_member",
    "add_members",
    "remove_member",
]


@dataclass(frozen=True)
class Operation:
    """One Graph write: a `$batch` inner request plus what it means."""

    kind: OperationKind
    method: str
    url: str
    body: dict[str, Any] | None = None
    disables: bool = False  # blocks sign-in: counted by the deletion brake
    random_password: bool = False  # carries a random password nobody knows (see `plan_user`)

    def describe(self) -> str:
        """Plain words for plan previews; never includes a password."""
        if self.kind == "set_password":
            return f"{self.method} {self.url} passwordProfile (password not shown)"
        if self.body and "passwordProfile" in self.body:
            shown = {k: v for k, v in self.body.items() if k != "passwordProfile"}
            return f"{self.method} {self.url} {shown} + passwordProfile (not shown)"
        return f"{self.method} {self.url} {self.body or ''}".strip()


@dataclass(frozen=True)
class DesiredUser:
    """What Microsoft 365 should hold for one bound user."""

    user_principal_name: str
    mail_nickname: str
    immutable_id: str
    account_enabled: bool
    attributes: Mapping[str, Any] = field(default_factory=dict)  # Graph property -> value


@dataclass(frozen=True)
class DesiredGroup:
    display_name: str
    mail_nickname: str
    description: str | None
    member_remote_ids: frozenset[str]


# Graph refuses to clear these once set (graph-facts §1.3): an empty Lockstep value leaves them.
NOT_CLEARABLE = frozenset({"usageLocation", "displayName"})


def _differs(wanted: Any, known: Any) -> bool:
    if isinstance(wanted, list) or isinstance(known, list):
        return list(wanted or []) != list(known or [])
    return (wanted or None) != (known or None)


def plan_user(
    *,
    desired: DesiredUser | None,
    remote_id: str,
    last_known: Mapping[str, Any],
    managed: Iterable[str],
    password: str | None,
    random_password: Callable[[], str],
    federated: bool = False,
    federated_before: bool | None = None,
) -> list[Operation]:
    """The writes that make the remote account match `desired`.

    `desired` None means the Lockstep side is gone (user deleted or unbound): the account
    is blocked and its sessions revoked, never deleted (deleting is a separate action).

    `federated`: the desired UPN's domain is federated; `federated_before`: the account's
    current UPN's domain is (None: the same as `federated`). A UPN moving into a federated
    domain carries the immutable id in the same PATCH (Entra needs one for a federated user);
    a UPN moving out carries a password (a federated user has no cloud password): the held
    password if the user just set one, else a random one nobody knows, marked
    `random_password`, until the user sets a password in Lockstep, which is then delivered as
    for any managed account (the same as an account created without a known password).
    graph-facts §12.3.
    """
    if desired is None:
        if not remote_id:
            return []
        operations: list[Operation] = []
        if last_known.get("accountEnabled") is not False:
            operations.append(
                Operation(
                    "update_user", "PATCH", f"/users/{remote_id}", {"accountEnabled": False}, disables=True
                )
            )
        operations.append(Operation("revoke_sessions", "POST", f"/users/{remote_id}/revokeSignInSessions"))
        return operations

    if not remote_id:
        body: dict[str, Any] = {
            "accountEnabled": desired.account_enabled,
            "userPrincipalName": desired.user_principal_name,
            "mail": desired.user_principal_name,
            "mailNickname": desired.mail_nickname,
            "onPremisesImmutableId": desired.immutable_id,
            "passwordProfile": {
                "password": password or random_password(),
                "forceChangePasswordNextSignIn": False,
            },
        }
        body.update({k: v for k, v in desired.attributes.items() if v not in (None, "", [])})
        return [Operation("create_user", "POST", "/users", body)]

    managed_set = set(managed)
    wanted: dict[str, Any] = {k: v for k, v in desired.attributes.items() if k in managed_set}
    if "accountEnabled" in managed_set or not desired.account_enabled:
        wanted["accountEnabled"] = desired.account_enabled
    wanted["userPrincipalName"] = desired.user_principal_name
    wanted["onPremisesImmutableId"] = desired.immutable_id
    wanted = {k: v for k, v in wanted.items() if not (k in NOT_CLEARABLE and v in (None, ""))}
    patch = {k: v for k, v in wanted.items() if _differs(v, last_known.get(k))}
    # Graph clears a property with null, not with an empty string.
    patch = {k: (None if v == "" else v) for k, v in patch.items()}
    was_federated = federated if federated_before is None else federated_before
    moves = "userPrincipalName" in patch
    if was_federated:
        patch.pop("onPremisesImmutableId", None)  # immutable while in a federated domain
    elif federated and moves and not last_known.get("onPremisesImmutableId"):
        patch["onPremisesImmutableId"] = desired.immutable_id  # moving in: the anchor goes along
    generated = False
    if was_federated and not federated and moves:  # moving out: a password in the same PATCH
        generated = not password
        patch["passwordProfile"] = {
            "password": password or random_password(),
            "forceChangePasswordNextSignIn": False,
        }
    operations = []
    if patch:
        disables = patch.get("accountEnabled") is False
        operations.append(
            Operation(
                "update_user",
                "PATCH",
                f"/users/{remote_id}",
                patch,
                disables=disables,
                random_password=generated,
            )
        )
        if disables:
            operations.append(
                Operation("revoke_sessions", "POST", f"/users/{remote_id}/revokeSignInSessions")
            )
    if password and not federated and "passwordProfile" not in patch:
        operations.append(
            Operation(
                "set_password",
                "PATCH",
                f"/users/{remote_id}",
                {"passwordProfile": {"password": password, "forceChangePasswordNextSignIn": False}},
            )
        )
    return operations


MAX_BIND = 20  # members@odata.bind references per request (graph-facts §2.2, §2.3)


def _bind(member_ids: Sequence[str], directory_object_base: str) -> dict[str, Any]:
    """A `members@odata.bind` body part (nothing for no members)."""
    if not member_ids:
        return {}
    return {"members@odata.bind": [directory_object_base + m for m in member_ids]}


def bound_members(body: Mapping[str, Any] | None) -> list[str]:
    """The member ids a `members@odata.bind` body names."""
    refs = (body or {}).get("members@odata.bind") or []
    return [str(ref).rstrip("/").rsplit("/", 1)[-1] for ref in refs]


def member_ref_operations(
    remote_id: str, member_ids: Sequence[str], directory_object_base: str
) -> list[Operation]:
    """One `POST .../members/$ref` per member: the fallback for a refused `members@odata.bind`."""
    return [
        Operation(
            "add_member",
            "POST",
            f"/groups/{remote_id}/members/$ref",
            {"@odata.id": directory_object_base + member},
        )
        for member in member_ids
    ]


def plan_group(
    *,
    desired: DesiredGroup | None,
    remote_id: str,
    last_known: Mapping[str, Any],
    remote_member_ids: frozenset[str] | None,
    directory_object_base: str = "https://graph.microsoft.com/v1.0/directoryObjects/",
    hold_partial: bool = False,
) -> list[Operation]:
    """Writes for a bound security group; membership is made equal in both directions.

    `remote_member_ids` is the membership last read from Microsoft 365 (None: unknown,
    so only attributes are planned and membership waits for a read). Members are added with
    `members@odata.bind`, up to 20 per write: at creation (the first 20) and by `PATCH`
    (graph-facts §2.2, §2.3); removals are one `DELETE .../$ref` each, the only way Graph has.
    `hold_partial`: more members are about to exist (their accounts are being created), so
    only full writes of 20 are planned now and the rest waits to share a write with them.
    """
    if desired is None:
        return []
    if not remote_id:
        return [
            Operation(
                "create_group",
                "POST",
                "/groups",
                {
                    "displayName": desired.display_name,
                    "mailNickname": desired.mail_nickname,
                    "mailEnabled": False,
                    "securityEnabled": True,
                    "groupTypes": [],
                    **({"description": desired.description} if desired.description else {}),
                    **_bind(sorted(desired.member_remote_ids)[:MAX_BIND], directory_object_base),
                },
            )
        ]
    operations: list[Operation] = []
    wanted = {"displayName": desired.display_name, "description": desired.description}
    patch = {k: v for k, v in wanted.items() if _differs(v, last_known.get(k))}
    if patch:
        operations.append(Operation("update_group", "PATCH", f"/groups/{remote_id}", patch))
    if remote_member_ids is not None:
        added = sorted(desired.member_remote_ids - remote_member_ids)
        if hold_partial:
            added = added[: len(added) - len(added) % MAX_BIND]
        for start in range(0, len(added), MAX_BIND):
            chunk = added[start : start + MAX_BIND]
            operations.append(
                Operation("add_members", "PATCH", f"/groups/{remote_id}", _bind(chunk, directory_object_base))
            )
        for member in sorted(remote_member_ids - desired.member_remote_ids):
            operations.append(
                Operation("remove_member", "DELETE", f"/groups/{remote_id}/members/{member}/$ref")
            )
    return operations
