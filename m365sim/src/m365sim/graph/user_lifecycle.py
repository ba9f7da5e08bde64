"""Soft delete and restore of users (graph-facts §1.6, §12.3).

A soft-deleted user sits in `/directory/deletedItems` with its UPN prefixed by its object id
without dashes (`2a5f...adele@contoso.com`), so the UPN is free for a new account at once; its
mail and proxy addresses stay. What a restore needs and Graph never shows (the original UPN,
the groups it was a member of) is kept under the private key `_restore` of the stored object,
which no projection returns.

`POST /directory/deletedItems/{id}/restore` takes an optional body: `newUserPrincipalName`
(restore under another UPN, e.g. when the original is taken) and `autoReconcileProxyConflict`
(drop proxy addresses another object now holds instead of failing). A restored user gets its
group memberships back (for groups that still exist).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from m365sim.errors import bad_request, conflict
from m365sim.graph.user_rules import validate_upn
from m365sim.state import Tenant, iso

if TYPE_CHECKING:
    from m365sim.simulator import Simulator

RESTORE_PARAMETERS = ("newUserPrincipalName", "autoReconcileProxyConflict")


def deleted_upn(uid: str, upn: str) -> str:
    """The UPN Entra shows for a soft-deleted user: its object id without dashes, then the UPN."""
    return uid.replace("-", "") + upn


def original_upn(o: dict[str, Any]) -> str:
    """The UPN a soft-deleted user had before its deletion."""
    return str((o.get("_restore") or {}).get("userPrincipalName") or o.get("userPrincipalName") or "")


def soft_delete_user(t: Tenant, u: dict[str, Any]) -> None:
    uid = u["id"]
    t.unindex_user(u)
    del t.users[uid]
    groups = list(t.member_of.get(uid, ()))
    for gid in groups:
        t.remove_member(gid, uid)
        t.log_change("group", gid, "member_remove", member=uid, member_type="user")
    u["_restore"] = {"userPrincipalName": u["userPrincipalName"], "memberOf": groups}
    u["userPrincipalName"] = deleted_upn(uid, u["userPrincipalName"])
    u["deletedDateTime"] = iso()
    t.deleted[uid] = u
    t.deleted_kind[uid] = "user"
    t.log_change("user", uid, "softdelete")


def _restore_options(body: Any) -> tuple[str | None, bool]:
    if body in (None, {}):
        return None, False
    if not isinstance(body, dict):
        raise bad_request("Invalid request body.")
    for key in body:
        if key not in RESTORE_PARAMETERS:
            raise bad_request(f"The parameter '{key}' is not valid for the action 'restore'.")
    new_upn = body.get("newUserPrincipalName")
    if new_upn is not None and not isinstance(new_upn, str):
        raise bad_request("Invalid value specified for parameter 'newUserPrincipalName'.")
    auto = body.get("autoReconcileProxyConflict", False)
    if not isinstance(auto, bool):
        raise bad_request("Invalid value specified for parameter 'autoReconcileProxyConflict'.")
    return new_upn, auto


def check_restorable(sim: Simulator, o: dict[str, Any], body: Any) -> tuple[str, list[str]]:
    """The UPN and proxy addresses the user comes back with; 400 on a conflict."""
    t = sim.tenant
    new_upn, auto = _restore_options(body)
    upn = validate_upn(t, new_upn) if new_upn else original_upn(o)
    owner = t.by_upn.get(upn.lower())
    if owner is not None and owner != o["id"]:
        raise conflict("userPrincipalName")
    proxies = []
    for proxy in o.get("proxyAddresses") or []:
        if proxy.split(":", 1)[-1].lower() in t.by_proxy:
            if not auto:
                raise conflict("proxyAddresses")
            continue
        proxies.append(proxy)
    if o.get("onPremisesImmutableId") and o["onPremisesImmutableId"] in t.by_immutable:
        raise conflict("immutableId")
    return upn, proxies


def restore_user(t: Tenant, o: dict[str, Any], upn: str, proxies: list[str]) -> None:
    """Bring a soft-deleted user back with `upn` and `proxies`, and its group memberships."""
    oid = o["id"]
    saved = o.pop("_restore", None) or {}
    o["userPrincipalName"] = upn
    o["proxyAddresses"] = proxies
    if o.get("mail") and not any(p.split(":", 1)[-1].lower() == o["mail"].lower() for p in proxies):
        o["mail"] = proxies[0].split(":", 1)[-1] if proxies else None
    o["deletedDateTime"] = None
    del t.deleted[oid]
    del t.deleted_kind[oid]
    t.users[oid] = o
    t.index_user(o)
    t.log_change("user", oid, "upsert")  # reappears as new in delta
    for gid in saved.get("memberOf") or []:
        if gid in t.groups and oid not in t.members.get(gid, {}):
            t.add_member(gid, oid)
            t.log_change("group", gid, "member_add", member=oid, member_type="user")
