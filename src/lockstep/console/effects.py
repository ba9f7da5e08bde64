"""What an action does in Microsoft 365, in words, for its confirmation and its success message.

"Suspending Megan Bowen blocks sign-in to Microsoft 365 (Contoso 365) and ends the open
sessions there." Each function reads which directories the user or group is bound to.
"""

from __future__ import annotations

from lockstep.directory.models import Group, User
from lockstep.m365.models import GroupBinding, UserBinding


def _names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def bound_directories(user: User) -> list[str]:
    """Names of the directories where the user's Microsoft 365 account is managed."""
    return sorted(
        UserBinding.objects.filter(user=user, unbound=False)
        .exclude(remote_deleted_at__isnull=False)
        .values_list("directory__name", flat=True)
    )


def group_directories(group: Group) -> list[str]:
    return sorted(GroupBinding.objects.filter(group=group).values_list("directory__name", flat=True))


def person(user: User) -> str:
    return user.display_name or user.username


def suspend(user: User) -> str:
    names = bound_directories(user)
    lockstep = f"Suspending {person(user)} stops sign-in to Lockstep"
    if not names:
        return f"{lockstep}. {person(user)} is not bound to a Microsoft 365 directory."
    return (
        f"Suspending {person(user)} blocks sign-in to Microsoft 365 ({_names(names)}) and ends the open "
        f"sessions there; sign-in to Lockstep stops too. The account and its mailbox and files stay."
    )


def unsuspend(user: User) -> str:
    names = bound_directories(user)
    where = f" and to Microsoft 365 ({_names(names)})" if names else ""
    return f"{person(user)} can sign in to Lockstep{where} again."


def unbind(user: User, directory: str) -> str:
    return (
        f"Unbinding {person(user)} from {directory} blocks sign-in to that Microsoft 365 account and ends "
        f"its open sessions; Lockstep then stops managing it. The account itself stays (delete it separately)."
    )


def delete_user(user: User) -> str:
    names = bound_directories(user)
    if not names:
        return f"{person(user)} is not bound to a Microsoft 365 directory: nothing changes there."
    return (
        f"Deleting {person(user)} blocks sign-in to Microsoft 365 ({_names(names)}) and ends the open "
        f"sessions there. The Microsoft 365 account itself is not deleted: its mailbox and files stay."
    )


_GROUP_LEFT_AS_IS = "members included; Lockstep stops changing it. Its members' accounts are not affected."


def unbind_group(group: Group, directory: str) -> str:
    return (
        f"Unbinding {group.name} from {directory} leaves the security group in Microsoft 365 as it is, "
        f"{_GROUP_LEFT_AS_IS}"
    )


def delete_group(group: Group) -> str:
    names = group_directories(group)
    if not names:
        return f"{group.name} is not bound to a Microsoft 365 directory: nothing changes there."
    return f"The security group stays in Microsoft 365 ({_names(names)}) as it is, {_GROUP_LEFT_AS_IS}"


# --- success messages ---------------------------------------------------------------------------


def sync_note(user: User) -> str:
    """ " Microsoft 365 (Contoso 365) follows within seconds." for a bound user, else ""."""
    names = bound_directories(user)
    return f" Microsoft 365 ({_names(names)}) follows within seconds." if names else ""


def state_changed(user: User) -> str:
    """After a state change: what it did, in Lockstep and in Microsoft 365."""
    names = bound_directories(user)
    where = f" ({_names(names)})" if names else ""
    if user.state == "suspended":
        tail = (
            f" Microsoft 365{where} sign-in is blocked and its sessions end within seconds." if names else ""
        )
        return f"{person(user)} suspended: sign-in to Lockstep stopped.{tail}"
    if user.state == "active":
        tail = f" Microsoft 365{where} sign-in is allowed again within seconds." if names else ""
        return f"{person(user)} is active.{tail}"
    return f"{person(user)} is now {user.get_state_display().lower()}."


def password_set(user: User) -> str:
    names = bound_directories(user)
    tail = f" Lockstep delivers it to Microsoft 365 ({_names(names)}) too." if names else ""
    return f"Password for {user.username} set.{tail}"
