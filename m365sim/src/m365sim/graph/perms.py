"""Application-permission and directory-role gates (graph-facts §1.3, §2, §9, §12.1).

Each set is exactly the application-permission list on the call's Microsoft Graph v1.0 page
("Permissions": least privileged plus higher privileged), never a broader one: m365sim must
not be kinder than Microsoft, so a permission Lockstep forgets to ask for shows up in tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from m365sim.errors import denied
from m365sim.state import (
    GLOBAL_ADMIN,
    HELPDESK_ADMIN,
    PASSWORD_ADMIN,
    PRIVILEGED_AUTH_ADMIN,
    USER_ADMIN,
)

if TYPE_CHECKING:
    from m365sim.graph.core import GraphRequest
    from m365sim.simulator import Simulator

DIR_R = {"Directory.Read.All", "Directory.ReadWrite.All"}
DIR_W = {"Directory.ReadWrite.All"}
# list/get users, $count: User.ReadBasic.All (basic properties only), User.Read.All, User.ReadWrite.All,
# Directory.Read.All, Directory.ReadWrite.All
USER_READ = {"User.Read.All", "User.ReadBasic.All", "User.ReadWrite.All", "User.ReadUpdate.All"} | DIR_R
# users delta and deletedItems (users): User.Read.All, User.ReadWrite.All, Directory.Read.All,
# Directory.ReadWrite.All (User.ReadBasic.All is not listed)
USER_READ_FULL = {"User.Read.All", "User.ReadWrite.All"} | DIR_R
USER_CREATE = {"User.ReadWrite.All"} | DIR_W
USER_UPDATE = {"User.ReadWrite.All", "User.ReadUpdate.All"} | DIR_W
# least-privileged permissions for single properties (§1.3), in addition to USER_UPDATE
NARROW = {
    "otherMails": {"User-Mail.ReadWrite.All"},
    "businessPhones": {"User-Phone.ReadWrite.All"},
    "mobilePhone": {"User-Phone.ReadWrite.All"},
}
USER_DELETE = {"User.DeleteRestore.All", "User.ReadWrite.All"} | DIR_W
USER_RESTORE = {"User.DeleteRestore.All", "User.ReadWrite.All"} | DIR_W
PASSWORD = {"User-PasswordProfile.ReadWrite.All", "User.ReadWrite.All"} | DIR_W
ENABLE = {"User.EnableDisableAccount.All", "User.ReadWrite.All"} | DIR_W
REVOKE = {"User.RevokeSessions.All", "User.ReadWrite.All"} | DIR_W
# list/get groups, members, groups delta: GroupMember.Read.All, Group.Read.All, Directory.Read.All,
# Group.ReadWrite.All, Directory.ReadWrite.All; GroupMember.ReadWrite.All is listed for members and,
# by its description ("list groups, read basic properties"), allows listing groups too
GROUP_READ = {
    "GroupMember.Read.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.ReadWrite.All",
} | DIR_R
GROUP_CREATE = {"Group.Create", "Group.ReadWrite.All"} | DIR_W
GROUP_WRITE = {"Group.ReadWrite.All"} | DIR_W
MEMBER_WRITE = {"GroupMember.ReadWrite.All", "Group.ReadWrite.All"} | DIR_W
# POST /groups binding user owners or members at creation: "at least User.Read.All" besides
# GROUP_CREATE (group-post-groups, Permissions)
BIND_AT_CREATE = {"User.Read.All", "User.ReadWrite.All"} | DIR_R
# list/get domains: Domain.Read.All, Directory.Read.All, Domain.ReadWrite.All, Directory.ReadWrite.All
DOMAIN_READ = {"Domain.Read.All", "Domain.ReadWrite.All"} | DIR_R
DOMAIN_WRITE = {"Domain.ReadWrite.All"}
FEDERATION_WRITE = {"Domain-InternalFederation.ReadWrite.All", "Domain.ReadWrite.All"}
# GET /organization: Organization.Read.All, Directory.Read.All, Organization.ReadWrite.All,
# Directory.ReadWrite.All; not User.Read.All (graph-facts §12.1)
ORG_READ = {"Organization.Read.All", "Organization.ReadWrite.All"} | DIR_R
# roleAssignments/roleDefinitions: RoleManagement.Read.Directory, RoleManagement.Read.All,
# Directory.Read.All, RoleManagement.ReadWrite.Directory (not Directory.ReadWrite.All)
ROLE_READ = {
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "Directory.Read.All",
    "RoleManagement.ReadWrite.Directory",
}
# servicePrincipals: Application.Read.All, Directory.Read.All, Application.ReadWrite.All,
# Directory.ReadWrite.All
SP_READ = {"Application.Read.All", "Application.ReadWrite.All"} | DIR_R
LICENSE_WRITE = {"LicenseAssignment.ReadWrite.All", "User.ReadWrite.All"} | DIR_W
SKU_READ = {"Organization.Read.All", "LicenseAssignment.Read.All", "LicenseAssignment.ReadWrite.All"} | DIR_R

# roles a User Administrator may manage (Microsoft's "who can reset passwords" table)
USER_ADMIN_MANAGES = {HELPDESK_ADMIN, PASSWORD_ADMIN, USER_ADMIN}
HIGH_ROLES = {PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN}


def require(req: GraphRequest, allowed: set[str]) -> None:
    """403 Authorization_RequestDenied unless the token holds one of ``allowed``."""
    if not (req.roles & allowed):
        raise denied()


def caller_roles(sim: Simulator, req: GraphRequest) -> set[str]:
    """Directory roles of the calling service principal (live state, as Graph checks it)."""
    return sim.tenant.roles_of(req.principal_id or "")


def require_role_for_target(sim: Simulator, req: GraphRequest, target_id: str, need_user_admin: bool) -> None:
    """Sensitive action on ``target_id``: admin-role holders need a higher role than User Admin.

    ``need_user_admin``: the caller must hold User Administrator (or higher) in any case.
    """
    held = caller_roles(sim, req)
    target_roles = sim.tenant.roles_of(target_id)
    if target_roles - USER_ADMIN_MANAGES:
        if not (held & HIGH_ROLES):
            raise denied()
        return
    if target_roles and not (held & (HIGH_ROLES | {USER_ADMIN})):
        raise denied()
    if need_user_admin and not (held & (HIGH_ROLES | {USER_ADMIN})):
        raise denied()
