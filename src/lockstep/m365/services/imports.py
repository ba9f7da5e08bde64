"""Import existing Microsoft 365 accounts and security groups (SPEC 2.2, 2.5, 2.7 plan preview).

The import wizard's one service module: it re-exports the step modules, one per step an admin
follows:

1. `import_scans`: `scan_candidates` lists the tenant's users into stored candidates (a
   background job with a progress row); `list_candidates` pages and searches them.
2. `import_previews`: `plan_for` shows, attribute by attribute, what taking one account over
   changes; `preview_import` lists the exact Microsoft 365 writes an import of a selection
   causes and, in words, which values accounts would lose (`import_decisions` decides per
   candidate; `takeover_values` fills empty Lockstep fields from Microsoft 365).
3. `import_batches`: `start_import` imports a selection or everything matching a filter (a
   background job with an `ImportBatch` progress row); `run_import` is the job's body.
4. `import_undo`: `undo_effects` says what an undo leaves in Microsoft 365; `undo_import` removes
   what a batch created, within 48 hours, and can put the accounts' old values back;
   `usage_report` counts users without the ones an undo removed.
5. `group_imports`: `list_remote_groups` / `preview_group_import` / `import_groups` take over
   existing security groups.

Every function is keyword-only, checks the actor, and raises `ValidationFailed`,
`Conflict` or `NotFound` from `lockstep.directory.errors`.
"""

from __future__ import annotations

from lockstep.m365.services.group_imports import (
    GroupImportOutcome,
    GroupImportPlan,
    GroupWrite,
    RemoteGroup,
    group_kind,
    import_groups,
    list_remote_groups,
    preview_group_import,
)
from lockstep.m365.services.import_batches import (
    get_import,
    list_import_items,
    list_imports,
    run_import,
    start_import,
)
from lockstep.m365.services.import_decisions import PlannedWrite
from lockstep.m365.services.import_previews import (
    MAX_SELECTION,
    CandidatePlan,
    ImportPreview,
    SkippedCandidate,
    plan_for,
    plans_for,
    preview_import,
)
from lockstep.m365.services.import_scans import (
    CandidateFilter,
    CandidatePage,
    get_candidate,
    get_scan,
    latest_scan,
    list_candidates,
    run_scan,
    scan_candidates,
)
from lockstep.m365.services.import_undo import (
    UNDO_WINDOW,
    AccountEffect,
    DirectoryUsage,
    UndoEffects,
    UsageReport,
    restores_of,
    undo_effects,
    undo_import,
    usage_report,
)

__all__ = [
    "MAX_SELECTION",
    "UNDO_WINDOW",
    "AccountEffect",
    "CandidateFilter",
    "CandidatePage",
    "CandidatePlan",
    "DirectoryUsage",
    "GroupImportOutcome",
    "GroupImportPlan",
    "GroupWrite",
    "ImportPreview",
    "PlannedWrite",
    "RemoteGroup",
    "SkippedCandidate",
    "UndoEffects",
    "UsageReport",
    "get_candidate",
    "get_import",
    "get_scan",
    "group_kind",
    "import_groups",
    "latest_scan",
    "list_candidates",
    "list_import_items",
    "list_imports",
    "list_remote_groups",
    "plan_for",
    "plans_for",
    "preview_group_import",
    "preview_import",
    "restores_of",
    "run_import",
    "run_scan",
    "scan_candidates",
    "start_import",
    "undo_effects",
    "undo_import",
    "usage_report",
]
