"""Application-permission and directory-role gates (graph-facts §1.3, §2, §9)."""

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
USER_READ = {"User.Read.All", "User.ReadBasic.All", "User.ReadWrite.All", "User.ReadUpdate.All"} | DIR_R
USER_CREATE = {"User.ReadWrite.All"} | DIR_W
USER_UPDATE = {"User.ReadWrite.All", "User.ReadUpdate.All"} | DIR_W
# least-privileged permissions for single properties (§1.3), in addition to USER_UPDATE
NARROW = {
    "otherMails": {"User-Mail.ReadWrite.All"},
    "businessPhones": {"User-Phone.ReadWrite.All"},
    "mobilePhone": {"User-Phone.ReadWrite.All"},
}
USER_DELETE = {"User.ReadWrite.All"} | DIR_W
PASSWORD = {"User-PasswordProfile.ReadWrite.All", "User.ReadWrite.All"} | DIR_W
ENABLE = {"User.EnableDisableAccount.All", "User.ReadWrite.All"} | DIR_W
REVOKE = {"User.RevokeSessions.All", "User.ReadWrite.All"} | DIR_W
GROUP_READ = {
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
} | DIR_R
GROUP_CREATE = {"Group.Create", "Group.ReadWrite.All"} | DIR_W
GROUP_WRITE = {"Group.ReadWrite.All"} | DIR_W
MEMBER_WRITE = {"GroupMember.ReadWrite.All", "Group.ReadWrite.All"} | DIR_W
DOMAIN_READ = {
    "Domain.Read.All",
    "Domain.ReadWrite.All",
    "Domain-InternalFederation.Read.All",
    "Domain-InternalFederation.ReadWrite.All",
} | DIR_R
DOMAIN_WRITE = {"Domain.ReadWrite.All"}
FEDERATION_WRITE = {"Domain-InternalFederation.ReadWrite.All", "Domain.ReadWrite.All"}
ORG_READ = {"Organization.Read.All", "Organization.ReadWrite.All", "User.Read.All"} | DIR_R
ROLE_READ = {
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleManagement.ReadWrite.Directory",
} | DIR_R
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
