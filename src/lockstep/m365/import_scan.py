"""The import scan: list a tenant's users once into `ImportCandidate` rows, matched as they come.

`run_scan` pages through `/users` once ($top=999, only the properties Lockstep needs) and lists
role assignments once, streaming each page into candidates, so a 50,000-user tenant costs about
52 Graph requests and one page of memory.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from lockstep.m365 import mapping
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.errors import AccessDenied, GraphError
from lockstep.m365.graph.odata import select as odata_select
from lockstep.m365.graph.paging import MAX_PAGE_SIZE, iter_pages
from lockstep.m365.importer import (
    BOUND,
    account_of,
    candidate_from,
    mark_duplicate_matches,
    match_accounts,
    synced,
)
from lockstep.m365.models import ImportCandidate, ImportScan

log = logging.getLogger(__name__)

SCAN_SELECT = (*mapping.ACCOUNT_SELECT, "assignedLicenses")
"""The only properties a scan asks for (each one is returned only when selected)."""

ROLE_ASSIGNMENTS = "/roleManagement/directory/roleAssignments"


def admin_principal_ids(client: GraphClient) -> set[str]:
    """Principals holding any Entra directory role (one paged listing of role assignments).

    Only direct assignments: a role held through a role-assignable group is not seen here.
    """
    items = client.iterate(ROLE_ASSIGNMENTS)
    return {str(item.get("principalId")) for item in items if item.get("principalId")}


def parse_count(content: bytes) -> int:
    """A `$count` answer: a number as text/plain, possibly after a UTF-8 byte-order mark
    (some OData services send one; graph-facts §12.3). Raises ValueError if it is no number."""
    return int(content.decode("utf-8-sig").strip())


ADMINS_UNKNOWN = (
    "Admin-role holders could not be identified ({reason}): no account is flagged as an admin, so "
    "check admin accounts yourself before importing them."
)


def admin_principal_ids_or_warning(client: GraphClient) -> tuple[set[str], str]:
    """The admin-role holders, or none and a warning when the role assignments cannot be read.

    Without RoleManagement.Read.Directory the scan still lists every account (its other
    permission, User.ReadWrite.All, covers that); only the admin flag degrades.
    """
    try:
        return admin_principal_ids(client), ""
    except AccessDenied as error:
        log.warning("role assignments unreadable, admin flag degrades: %s", error)
        return set(), ADMINS_UNKNOWN.format(reason="RoleManagement.Read.Directory is missing")


def count_users(client: GraphClient) -> int | None:
    """The tenant's user count for the progress bar (`/users/$count`, eventually consistent), or None."""
    try:
        response = client.transport.request("GET", "/users/$count", headers={"ConsistencyLevel": "eventual"})
        return parse_count(response.content)
    except (GraphError, ValueError):
        return None


def run_scan(scan: ImportScan, client: GraphClient) -> ImportScan:
    """Fill `scan` with one candidate per tenant user, updating its progress row per page."""
    directory = scan.directory
    started = client.stats.http_requests
    ImportCandidate.objects.filter(scan=scan).delete()  # a scan re-run after a worker died
    ImportScan.objects.filter(pk=scan.pk).update(
        state="running", started_at=timezone.now(), pages_done=0, users_seen=0, admins_found=0, error=""
    )
    try:
        ImportScan.objects.filter(pk=scan.pk).update(users_total=count_users(client))
        admins, warning = admin_principal_ids_or_warning(client)
        ImportScan.objects.filter(pk=scan.pk).update(error=warning)  # a warning while the scan is done
        params: dict[str, str | int] = {"$select": odata_select(SCAN_SELECT), "$top": MAX_PAGE_SIZE}
        users = admins_found = 0
        for pages, page in enumerate(iter_pages(client.transport, "/users", params=params), start=1):
            candidates = [candidate_from(item, admins) for item in page.items if item.get("id")]
            matches = match_accounts(directory=directory, accounts=[account_of(c) for c in candidates])
            for candidate in candidates:
                match = matches[candidate.remote_id]
                candidate.scan = scan
                candidate.status = match.status
                candidate.matched_user_id = match.user_id
                candidate.matched_by = match.matched_by
                candidate.reason = match.reason
                if synced(candidate) and match.status != BOUND:
                    candidate.reason = " ".join(filter(None, [mapping.SYNCED_FROM_ON_PREMISES, match.reason]))
            ImportCandidate.objects.bulk_create(candidates, batch_size=500, ignore_conflicts=True)
            users += len(candidates)
            admins_found += sum(1 for c in candidates if c.admin)
            ImportScan.objects.filter(pk=scan.pk).update(
                pages_done=pages,
                users_seen=users,
                admins_found=admins_found,
                graph_requests=client.stats.http_requests - started,
            )
        mark_duplicate_matches(scan)
    except GraphError as error:
        log.warning("import scan %s of directory %s failed: %s", scan.pk, directory.pk, error)
        ImportScan.objects.filter(pk=scan.pk).update(
            state="failed",
            finished_at=timezone.now(),
            error=error.plain_words or error.message or str(error),
            graph_requests=client.stats.http_requests - started,
        )
        scan.refresh_from_db()
        return scan
    except Exception as problem:  # recorded on the row for the admin, then the job fails too
        log.exception("import scan %s of directory %s stopped", scan.pk, directory.pk)
        ImportScan.objects.filter(pk=scan.pk).update(
            state="failed", finished_at=timezone.now(), error=f"The listing stopped: {problem}"
        )
        raise
    ImportScan.objects.filter(pk=scan.pk).update(
        state="done", finished_at=timezone.now(), graph_requests=client.stats.http_requests - started
    )
    # The newest finished scan is the current list; older ones go (their candidates with them).
    ImportScan.objects.filter(directory=directory).exclude(pk=scan.pk).exclude(
        state__in=("queued", "running")
    ).delete()
    scan.refresh_from_db()
    return scan
