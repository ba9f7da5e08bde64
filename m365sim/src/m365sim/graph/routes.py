"""The Graph v1.0 route table (order matters: literal segments before ``{id}``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from m365sim.errors import GraphError
from m365sim.graph import batch, deleted_items, delta, directory, group_members, groups, users
from m365sim.graph.core import GraphRequest, GraphResponse

if TYPE_CHECKING:
    from m365sim.simulator import Simulator


def me(sim: Simulator, req: GraphRequest) -> GraphResponse:
    raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")


def members_cast(sim: Simulator, req: GraphRequest) -> GraphResponse:
    cast = req.params["cast"]
    if not cast.lower().startswith("microsoft.graph."):
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{cast}'.")
    req.params["cast"] = cast.split(".")[-1]
    return group_members.list_members(sim, req)


def delete_member_object(sim: Simulator, req: GraphRequest) -> GraphResponse:
    """DELETE /groups/{id}/members/{memberId} without /$ref deletes the member object (§2.3)."""
    groups.get_group_or_404(sim.tenant, req.params["id"])
    req.params["id"] = req.params["member"]
    if req.params["id"] in sim.tenant.users:
        return users.delete_user(sim, req)
    return groups.delete_group(sim, req)


def deleted_item(sim: Simulator, req: GraphRequest) -> GraphResponse:
    key = req.params["id"]
    if key.lower().startswith("microsoft.graph."):
        req.params["cast"] = key
        return deleted_items.list_deleted(sim, req)
    return deleted_items.get_deleted(sim, req)


def deleted_root(sim: Simulator, req: GraphRequest) -> GraphResponse:
    req.params["cast"] = ""
    return deleted_items.list_deleted(sim, req)


def register(sim: Simulator) -> None:
    r = sim.router
    r.add("POST", "/$batch", batch.batch)
    r.add("GET", "/me", me)
    # users
    r.add("GET", "/users/$count", users.count_users)
    r.add("GET", "/users/delta", delta.delta)
    r.add("GET", "/users", users.list_users)
    r.add("POST", "/users", users.create_user)
    r.add("GET", "/users/{id}", users.get_user)
    r.add("PATCH", "/users/{id}", users.update_user)
    r.add("DELETE", "/users/{id}", users.delete_user)
    r.add("POST", "/users/{id}/revokeSignInSessions", users.revoke_sessions)
    r.add("POST", "/users/{id}/assignLicense", directory.assign_license)
    r.add("GET", "/users/{id}/memberOf", users.user_member_of)
    r.add("GET", "/users/{id}/transitiveMemberOf", users.user_member_of)
    # groups
    r.add("GET", "/groups/$count", groups.count_groups)
    r.add("GET", "/groups/delta", delta.delta)
    r.add("GET", "/groups", groups.list_groups)
    r.add("POST", "/groups", groups.create_group)
    r.add("GET", "/groups/{id}", groups.get_group)
    r.add("PATCH", "/groups/{id}", groups.update_group)
    r.add("DELETE", "/groups/{id}", groups.delete_group)
    r.add("GET", "/groups/{id}/members/$count", group_members.count_members)
    r.add("POST", "/groups/{id}/members/$ref", group_members.add_member_ref)
    r.add("GET", "/groups/{id}/members", group_members.list_members)
    r.add("GET", "/groups/{id}/members/{cast}", members_cast)
    r.add("DELETE", "/groups/{id}/members/{member}/$ref", group_members.remove_member_ref)
    r.add("DELETE", "/groups/{id}/members/{member}", delete_member_object)
    r.add("GET", "/groups/{id}/transitiveMembers", group_members.list_transitive)
    r.add("GET", "/groups/{id}/owners", group_members.list_owners)
    r.add("POST", "/groups/{id}/owners/$ref", group_members.add_owner_ref)
    r.add("DELETE", "/groups/{id}/owners/{member}/$ref", group_members.remove_owner_ref)
    # directory
    r.add("GET", "/directoryObjects/{id}", directory.get_directory_object)
    r.add("GET", "/directory/deletedItems", deleted_root)
    r.add("GET", "/directory/deletedItems/{id}", deleted_item)
    r.add("POST", "/directory/deletedItems/{id}/restore", deleted_items.restore_deleted)
    r.add("DELETE", "/directory/deletedItems/{id}", deleted_items.purge_deleted)
    r.add("GET", "/domains", directory.list_domains)
    r.add("GET", "/domains/{id}", directory.get_domain)
    r.add("PATCH", "/domains/{id}", directory.update_domain)
    r.add("GET", "/organization", directory.organization)
    r.add("GET", "/roleManagement/directory/roleAssignments", directory.role_assignments)
    r.add("GET", "/roleManagement/directory/roleDefinitions", directory.role_definitions)
    r.add("GET", "/servicePrincipals(appId={appId})", directory.sp_by_app_id)
    r.add("GET", "/servicePrincipals", directory.list_sps)
    r.add("GET", "/servicePrincipals/{id}", directory.get_sp)
    r.add("GET", "/servicePrincipals/{id}/memberOf", directory.sp_member_of)
    r.add("GET", "/servicePrincipals/{id}/transitiveMemberOf", directory.sp_member_of)
    r.add("GET", "/subscribedSkus", directory.subscribed_skus)
