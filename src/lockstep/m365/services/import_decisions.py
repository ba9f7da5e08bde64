"""What importing one candidate does now (step 2 of the import wizard): create, bind, link or skip.

The decisions are made afresh against Lockstep's users whenever they are needed (plan, preview,
the import itself), so a preview and the import it starts agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lockstep.directory.errors import ValidationFailed
from lockstep.directory.models import User, UserState
from lockstep.m365 import immutable_ids, importer, mapping, reconcile, takeover, takeover_values
from lockstep.m365.models import Directory, ImportCandidate

IMPORT_STATES = (UserState.STAGED, UserState.ACTIVE)


@dataclass(frozen=True)
class ImportOptions:
    state: str = UserState.STAGED
    confirm_admins: bool = False
    include_unlicensed: bool = False
    include_disabled: bool = False
    fill_from_m365: bool = True  # empty Lockstep fields of matched users take the account's values


def clean_options(
    state: Any,
    confirm_admins: Any,
    include_unlicensed: Any,
    include_disabled: Any,
    fill_from_m365: Any = True,
) -> ImportOptions:
    errors: dict[str, list[str]] = {}
    if state not in IMPORT_STATES:
        errors["state"] = [
            "Must be staged or active (an import never blocks sign-in: suspend users afterwards if needed)."
        ]
    for name, value in (
        ("confirm_admins", confirm_admins),
        ("include_unlicensed", include_unlicensed),
        ("include_disabled", include_disabled),
        ("fill_from_m365", fill_from_m365),
    ):
        if not isinstance(value, bool):
            errors[name] = ["Must be true or false."]
    if errors:
        raise ValidationFailed(errors)
    return ImportOptions(str(state), confirm_admins, include_unlicensed, include_disabled, fill_from_m365)


@dataclass
class Decision:
    """What importing one candidate does now: create, bind, link, already_bound or skip."""

    candidate: ImportCandidate
    action: str
    status: str  # the match status now (it may differ from the scan's)
    reason: str = ""
    user: User | None = None  # the Lockstep user (unsaved for `create`)
    operations: list[reconcile.Operation] = field(default_factory=list)
    known: dict[str, Any] = field(default_factory=dict)
    fills: dict[str, str] = field(default_factory=dict)  # empty Lockstep field -> the account's value
    lost: list[str] = field(default_factory=list)  # Graph properties the writes clear in Microsoft 365


@dataclass
class Context:
    directory: Directory
    options: ImportOptions
    verified: set[str]
    federated: set[str]


def context(directory: Directory, options: ImportOptions) -> Context:
    return Context(
        directory, options, takeover.verified_domains(directory), takeover.federated_domains(directory)
    )


def decide_all(ctx: Context, candidates: Sequence[ImportCandidate]) -> list[Decision]:
    """Decisions for a chunk of candidates, matched afresh against Lockstep's users now."""
    matches = importer.match_accounts(
        directory=ctx.directory, accounts=[importer.account_of(c) for c in candidates]
    )
    user_ids = {m.user_id for m in matches.values() if m.user_id}
    users = {
        u.pk: u for u in User.objects.filter(pk__in=user_ids, organization_id=ctx.directory.organization_id)
    }
    check = immutable_ids.TakeoverCheck.load(
        ctx.directory, [immutable_ids.account_value(c.attributes) for c in candidates], user_ids
    )
    return [_decide(ctx, c, matches[c.remote_id], users, check) for c in candidates]


def _decide(
    ctx: Context,
    candidate: ImportCandidate,
    match: importer.Match,
    users: dict[int, User],
    check: immutable_ids.TakeoverCheck,
) -> Decision:
    if match.status == importer.BOUND:
        return Decision(candidate, "already_bound", match.status, match.reason, users.get(match.user_id or 0))
    why = takeover.eligibility(
        candidate,
        confirm_admins=ctx.options.confirm_admins,
        include_unlicensed=ctx.options.include_unlicensed,
        include_disabled=ctx.options.include_disabled,
    )
    if not why.ok:
        return Decision(candidate, "skip", match.status, " ".join(why.reasons))
    if match.status == importer.AMBIGUOUS:
        return Decision(candidate, "skip", match.status, f"Ambiguous: {match.reason}")
    if candidate.status == importer.AMBIGUOUS:  # several accounts of the scan match one user
        return Decision(candidate, "skip", importer.AMBIGUOUS, f"Ambiguous: {candidate.reason}")
    if match.status == importer.NEW:
        user, errors = takeover.unsaved_user(candidate, ctx.options.state)
        if user is None:
            shown = "; ".join(f"{f}: {' '.join(m)}" for f, m in errors.items())
            return Decision(
                candidate, "skip", match.status, f"Cannot create a Lockstep user from it: {shown}"
            )
        action = "create"
    else:
        user = users.get(match.user_id or 0)
        if user is None:
            return Decision(candidate, "skip", match.status, "The matched Lockstep user no longer exists.")
        action = "link" if match.pending_binding else "bind"
    domain = mapping.email_domain(user.email)
    if domain not in ctx.verified:
        return Decision(
            candidate,
            "skip",
            match.status,
            f"The company email's domain {domain} is not a verified domain of {ctx.directory.name}.",
        )
    kept_id_problem = check.problem(user, immutable_ids.account_value(candidate.attributes))
    if kept_id_problem:
        return Decision(candidate, "skip", match.status, kept_id_problem)
    fills: dict[str, str] = {}
    planned = user
    if action != "create" and ctx.options.fill_from_m365:
        fills = takeover_values.fills(user, candidate.attributes, ctx.directory.managed())
        planned = takeover_values.filled(user, fills)
    operations, known = takeover.plan_operations(candidate, ctx.directory, planned, federated=ctx.federated)
    lost = takeover_values.lost_properties(candidate.attributes, operations)
    return Decision(candidate, action, match.status, match.reason, user, operations, known, fills, lost)


@dataclass(frozen=True)
class PlannedWrite:
    """One Microsoft 365 write (never with a password: an import dispatches none)."""

    candidate_id: int
    upn: str
    method: str
    url: str
    body: dict[str, Any] | None


def planned_writes(decision: Decision) -> list[PlannedWrite]:
    c = decision.candidate
    return [PlannedWrite(c.pk, c.upn, op.method, op.url, op.body) for op in decision.operations]
