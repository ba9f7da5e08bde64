"""The confirmation of a bulk action in plain words: what changes in Lockstep and in Microsoft 365."""

from __future__ import annotations

from lockstep.directory.actors import Actor
from lockstep.directory.models import Group
from lockstep.directory.services.bulk import BulkPlan
from lockstep.m365.bulk_effects import (
    DirectoryShare,
    bound_shares,
    brake_words,
    directory_label,
    group_shares,
)
from lockstep.m365.models import Directory
from lockstep.portal.services.invitations import WELCOME, which_email


def people(count: int) -> str:
    return f"{count:,} user{'' if count == 1 else 's'}"


def _are(count: int) -> str:
    return "is" if count == 1 else "are"


def _where(shares: list[DirectoryShare]) -> str:
    if len(shares) == 1:
        return shares[0].label
    return "; ".join(f"{share.label}: {share.users:,}" for share in shares)


def state_words(actor: Actor, to_state: str, plan: BulkPlan) -> list[str]:
    count = len(plan.changing)
    suspend = to_state == "suspended"
    if not count:
        return [f"Nothing to change: every selected user is already {to_state}."]
    shares, bound = bound_shares(actor=actor, user_ids=plan.changing_ids)
    others = count - bound
    verb = "Suspending" if suspend else "Activating"
    only = "suspended" if suspend else "activated"
    if not bound:
        lead = f"{verb} {people(count)}: none of them is bound to Microsoft 365, so they are only {only} in Lockstep."
    elif suspend:
        whose = "their" if not others else f"the {bound:,} bound ones'"
        lead = f"Suspending {people(count)} blocks {whose} sign-in to Microsoft 365 ({_where(shares)}) within seconds and revokes their sessions"
    else:
        whose = "their" if not others else f"the {bound:,} bound ones'"
        lead = f"Activating {people(count)} enables {whose} Microsoft 365 accounts ({_where(shares)}) within seconds"
    if bound:
        lead += (
            f"; {others:,} {_are(others)} not bound and {_are(others)} only {only} in Lockstep."
            if others
            else "."
        )
    words = [lead]
    if suspend:
        words.append(
            "Suspended users cannot sign in to the User Portal or through Lockstep's single sign-on."
        )
        words += [w for s in shares if (w := brake_words(s.directory, s.users))]
    else:
        words.append("They can sign in to the User Portal once they have a password; no email is sent.")
    return words


def group_words(actor: Actor, group: Group, plan: BulkPlan) -> list[str]:
    count = len(plan.changing)
    if not count:
        return [f"Nothing to change: every selected user is already a member of {group.name}."]
    shares = group_shares(actor=actor, group_id=group.pk, user_ids=plan.changing_ids)
    lead = f"Adding {people(count)} to the group {group.name}."
    if not shares:
        return [lead, f"{group.name} is not bound to Microsoft 365, so nothing changes there."]
    words = [lead]
    for share in shares:
        rest = count - share.users
        words.append(
            f"In Microsoft 365 ({share.label}) the {share.users:,} of them bound there join the security group "
            f"{group.name} within seconds"
            + (
                f"; the other {rest:,} {_are(rest)} not bound there and join{'s' if rest == 1 else ''} in Lockstep only."
                if rest
                else "."
            )
        )
    return words


def bind_words(directory: Directory, plan: BulkPlan) -> list[str]:
    count = len(plan.changing)
    if not count:
        return [f"Nothing to bind: none of the selected users can be bound to {directory.name} (see below)."]
    return [
        f"Binding {people(count)} to Microsoft 365 ({directory_label(directory)}): within seconds, accounts "
        "that already exist there (matched by company email) are taken over without sending a password, "
        "and the others are created from the users' details.",
        "A created account gets a password nobody knows until the user's first User Portal login "
        "(or the initial password an admin set). From then on Lockstep manages these accounts.",
    ]


def unbind_words(directory: Directory, plan: BulkPlan) -> list[str]:
    count = len(plan.changing)
    if not count:
        return [f"Nothing to unbind: none of the selected users is bound to {directory.name}."]
    words = [
        f"Unbinding {people(count)} from Microsoft 365 ({directory_label(directory)}) blocks their sign-in "
        "there and revokes their sessions within seconds; the accounts are not deleted, and Lockstep "
        "stops managing them."
    ]
    brake = brake_words(directory, count)
    return [*words, brake] if brake else words


def activation_words(plan: BulkPlan) -> list[str]:
    count = len(plan.changing)
    if not count:
        return ["Nothing to send: none of the selected users is active (see below)."]
    welcome = sum(1 for user in plan.changing if which_email(user) == WELCOME)
    activation = count - welcome
    words = []
    if activation:
        words.append(
            f"{people(activation)} without a password get{'s' if activation == 1 else ''} an activation email "
            "(to the alternate email, else the company email) with a link to set a password; the link works "
            "once and an older activation link stops working."
        )
    if welcome:
        words.append(
            f"{people(welcome)} who already {'has' if welcome == 1 else 'have'} a password "
            f"get{'s' if welcome == 1 else ''} a welcome email with the User Portal address."
        )
    words.append("Each user's first User Portal sign-in sends their password to Microsoft 365.")
    return words
