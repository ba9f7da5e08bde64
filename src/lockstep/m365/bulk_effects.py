"""What a bulk action on users would do in Microsoft 365: read-only counts for its confirmation.

Which of the selected users are bound to which directory (and so feel a suspend or an
activation there), which directories a group is bound to, and whether a directory's deletion
brake would hold some of the disables. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lockstep.directory.actors import Actor
from lockstep.directory.services.bulk import chunks
from lockstep.m365.brake_window import within_thresholds
from lockstep.m365.models import Directory, DirectoryDomain, GroupBinding, UserBinding


@dataclass(frozen=True)
class DirectoryShare:
    """How many of the selected users are bound to one directory."""

    directory: Directory
    label: str  # "Contoso 365, contoso.com"
    users: int


def directory_label(directory: Directory) -> str:
    """The directory's name and the domain an admin recognises it by (its default domain)."""
    domains = DirectoryDomain.objects.filter(directory=directory).order_by(
        "-is_default", "-is_initial", "name"
    )
    first = domains.values_list("name", flat=True).first()
    return f"{directory.name}, {first}" if first else directory.name


def _bound_pairs(actor: Actor, user_ids: Sequence[int]) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    for chunk in chunks(list(user_ids)):
        pairs.extend(
            UserBinding.objects.filter(
                user_id__in=chunk, unbound=False, directory__organization_id=actor.organization_id
            ).values_list("user_id", "directory_id")
        )
    return pairs


def _shares(counts: dict[int, int]) -> list[DirectoryShare]:
    directories = Directory.objects.filter(pk__in=counts).order_by("name")
    return [DirectoryShare(d, directory_label(d), counts[d.pk]) for d in directories]


def bound_shares(*, actor: Actor, user_ids: Sequence[int]) -> tuple[list[DirectoryShare], int]:
    """Per directory, how many of these users are bound there; and how many are bound anywhere."""
    pairs = _bound_pairs(actor, user_ids)
    counts: dict[int, int] = {}
    for _user_id, directory_id in pairs:
        counts[directory_id] = counts.get(directory_id, 0) + 1
    return _shares(counts), len({user_id for user_id, _ in pairs})


def group_shares(*, actor: Actor, group_id: int, user_ids: Sequence[int]) -> list[DirectoryShare]:
    """The directories the group is bound to, each with how many of these users are bound there too
    (only they join the Microsoft 365 security group)."""
    bound_to = set(
        GroupBinding.objects.filter(
            group_id=group_id, unbound=False, directory__organization_id=actor.organization_id
        ).values_list("directory_id", flat=True)
    )
    counts = dict.fromkeys(bound_to, 0)
    for _user_id, directory_id in _bound_pairs(actor, user_ids):
        if directory_id in counts:
            counts[directory_id] += 1
    return _shares(counts)


def brake_words(directory: Directory, disables: int) -> str:
    """A warning when this many disables at once exceed the directory's deletion brake."""
    bound = UserBinding.objects.filter(directory=directory, unbound=False, user__isnull=False).count()
    if within_thresholds(directory, disables, bound):
        return ""
    return (
        f"{directory.name}'s deletion brake lets at most {directory.brake_count} accounts (or "
        f"{directory.brake_percent}% of its bound accounts) be disabled in any {directory.brake_window_minutes} "
        "minutes: the disables beyond that wait under Held writes until an admin approves them."
    )
