"""At start, notice bound Microsoft 365 objects that are gone.

While Lockstep was stopped, an account or group it bound may have been deleted in Microsoft 365
(or m365sim restarted without its saved state). The drift rounds would notice only when a delta
shows the deletion, which a restarted tenant never does. So each worker's sync loop, before its
first pass, reads every bound user and group of each active directory once: `GET /users/{id}`
and `GET /groups/{id}` (`$select=id`), 20 to a `$batch` request, paced by the tenant's budget.

A 404 is treated exactly as drift treats a deletion it sees (`remote_deletions.mark_user_deleted`,
`remote_deletions.mark_group_deleted`): the binding turns to error with plain words and is never re-created
on its own. A user found in the recycle bin (one `deletedItems` listing, only when some are
missing) is "deleted"; one that is nowhere is "deleted permanently". Not read: objects Lockstep
created or restored within `replication.GRACE` (a 404 then is replication lag), bindings a
worker holds, and, past `LIMIT` per kind, the rest (the drift rounds cover those).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils import timezone

from lockstep.m365 import remote_deletions, replication
from lockstep.m365.graph.batch import BatchRequest
from lockstep.m365.graph.client import GraphClient, segment
from lockstep.m365.graph.errors import GraphError
from lockstep.m365.models import Directory, GroupBinding, UserBinding

if TYPE_CHECKING:
    from lockstep.m365.sync_loop import PortCache

log = logging.getLogger(__name__)

LIMIT = 2000  # bound objects of one kind read per directory at start: at most 100 `$batch` requests


@dataclass
class StartupCheck:
    directory_id: int
    users_checked: int = 0
    users_missing: int = 0
    groups_checked: int = 0
    groups_missing: int = 0


def missing_ids(client: GraphClient, collection: str, remote_ids: Iterable[str]) -> set[str]:
    """The ids among `remote_ids` that `GET /{collection}/{id}` answers 404 for.

    Any other failure (throttled, unreachable) says nothing about the object: it is not missing.
    """
    by_request = {str(position): remote_id for position, remote_id in enumerate(remote_ids, start=1)}
    requests = [
        BatchRequest("GET", f"/{collection}/{segment(remote_id)}?$select=id", id=request_id)
        for request_id, remote_id in by_request.items()
    ]
    if not requests:
        return set()
    return {by_request[str(result.request.id)] for result in client.batch(requests) if result.status == 404}


def check_directory(directory: Directory, client: GraphClient) -> StartupCheck:
    """Read this directory's bound objects once; mark the ones Microsoft 365 no longer has."""
    started = timezone.now()
    result = StartupCheck(directory.pk)
    users = (
        UserBinding.objects.filter(directory=directory, remote_deleted_at__isnull=True)
        .exclude(remote_id="")
        .exclude(remote_created_at__gt=started - replication.GRACE)
    )
    user_ids = list(users.order_by("pk").values_list("remote_id", flat=True)[:LIMIT])
    result.users_checked = len(user_ids)
    gone_users = missing_ids(client, "users", user_ids)
    if gone_users:
        recycled = {str(item.get("id")) for item in client.list_deleted_users(select=["id"])}
        now = timezone.now()
        for user_binding in users.filter(remote_id__in=gone_users).select_related("user"):
            free = UserBinding.objects.filter(remote_deletions.free_of_lease(now), pk=user_binding.pk)
            reason = "changed" if user_binding.remote_id in recycled else "deleted"
            result.users_missing += int(remote_deletions.mark_user_deleted(free, user_binding, reason, now))

    groups = (
        GroupBinding.objects.filter(directory=directory, group__isnull=False)
        .exclude(remote_id="")
        .exclude(last_error_code="deleted_in_m365")
        .exclude(remote_created_at__gt=started - replication.GRACE)
    )
    group_ids = list(groups.order_by("pk").values_list("remote_id", flat=True)[:LIMIT])
    result.groups_checked = len(group_ids)
    gone_groups = missing_ids(client, "groups", group_ids)
    now = timezone.now()
    for group_binding in groups.filter(remote_id__in=gone_groups):
        free_group = GroupBinding.objects.filter(remote_deletions.free_of_lease(now), pk=group_binding.pk)
        result.groups_missing += int(remote_deletions.mark_group_deleted(free_group, now))
    return result


def check_all(directories: Iterable[Directory], ports: PortCache) -> list[StartupCheck]:
    """The start-up check of each directory; one that cannot be read is skipped (and logged)."""
    results = []
    for directory in directories:
        try:
            checked = check_directory(directory, ports.port_for(directory).client)
        except GraphError as problem:
            log.warning("start-up check of directory %s skipped: %s", directory.pk, problem)
            continue
        except Exception:
            log.exception("start-up check of directory %s failed", directory.pk)
            continue
        results.append(checked)
        if checked.users_missing or checked.groups_missing:
            log.warning(
                "directory %s: %d bound users and %d bound groups no longer exist in Microsoft 365",
                directory.pk,
                checked.users_missing,
                checked.groups_missing,
            )
    return results
