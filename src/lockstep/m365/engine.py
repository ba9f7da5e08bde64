"""The sync engine: claim dirty bindings, plan their writes, send them, record the outcome.

One pass for one directory:
1. claim up to `CLAIM_LIMIT` bindings whose desired version is ahead of the applied one
   (and whose retry time has come) with a lease, so several workers never write the same
   object twice (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL);
2. plan each binding's writes with the pure `reconcile` functions;
3. hold back disables beyond the deletion brake (counted over a sliding window: `brake_window`);
4. send the writes as `$batch` requests of up to 20, in rounds (an object's second write
   goes only after its first succeeded);
5. record per binding: applied version, last applied state, status and plain-words error;
   an audit row per write; transient failures get a retry time with backoff and jitter.
A binding that fails never stops the others; a directory-fatal error pauses the directory
and keeps the queue.

The parts: `sync_pass` (claim, backoff, the pass result), `user_plan` (steps 2-3),
`user_record` and `user_finish` (step 5).
"""

from __future__ import annotations

from lockstep.m365 import brake_window, lanes
from lockstep.m365.graph.errors import FatalForDirectory
from lockstep.m365.models import Directory, UserBinding
from lockstep.m365.port import GraphPort, WriteOutcome, WriteRequest
from lockstep.m365.sync_pass import CLAIM_LIMIT, PassResult, claim_lanes, claim_size
from lockstep.m365.user_finish import finish
from lockstep.m365.user_plan import Work, apply_brake, offer_restores, plan_users
from lockstep.m365.user_record import record_one


def run_user_pass(directory: Directory, port: GraphPort, *, worker: str = "worker") -> PassResult:
    result = PassResult()
    claimed = claim_lanes(UserBinding, directory, worker, claim_size(port, CLAIM_LIMIT))
    ids = claimed.ids
    result.claimed = len(ids)
    if not ids:
        return result
    works = plan_users(directory, ids)
    try:
        offer_restores(works, port, result)
    except FatalForDirectory as exc:
        result.paused = exc.plain_words or str(exc)
    admission = apply_brake(directory, works, result)
    sent_disables: set[str] = set()
    rounds = 0 if result.paused else max((len(w.operations) for w in works), default=0)
    for step in range(rounds):
        todo = [w for w in works if w.done and len(w.operations) > step]
        if not todo:
            break
        todo.sort(key=lambda w: w.binding.pk not in claimed.interactive)  # hand-made first
        try:
            outcomes = _write(port, todo, step, claimed.interactive)
        except (
            FatalForDirectory
        ) as exc:  # no token at all (expired secret, deleted app): pause, keep the queue
            result.paused = exc.plain_words or str(exc)
            break
        sent_disables.update(w.binding.remote_id for w in todo if w.operations[step].disables)
        for work, outcome in zip(todo, outcomes, strict=True):
            record_one(directory, work, work.operations[step], outcome, port, result)
        if result.paused:
            break
    if admission is not None:  # only the disables that went out count against others
        brake_window.release_unsent(directory, admission, sent_disables)
    finish(directory, works, result)
    return result


def _write(port: GraphPort, todo: list[Work], step: int, interactive: set[int]) -> list[WriteOutcome]:
    """Send one round's writes; hand-made changes (`interactive`, listed first in `todo`) go in
    their own request, which may spend the interactive lane's reserve of the tenant's budget."""
    requests = [WriteRequest(op.method, op.url, op.body) for w in todo for op in [w.operations[step]]]
    first = sum(1 for w in todo if w.binding.pk in interactive)
    if not first:
        return port.write(requests)
    with lanes.priority():
        outcomes = port.write(requests[:first])
    return outcomes + (port.write(requests[first:]) if first < len(requests) else [])
