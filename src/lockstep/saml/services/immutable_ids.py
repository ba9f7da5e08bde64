"""Give every bound account of a still-managed domain its `onPremisesImmutableId`.

Written through the sync engine, not by a direct PATCH here: the engine is the one writer of
accounts (leases, the brake, retries, replication lag, `last_applied`), and its reconcile
already sends `onPremisesImmutableId` whenever it differs from what it believes applied while
the domain is managed (`m365.reconcile.plan_user`). An account lacking it in Microsoft 365
while `last_applied` says it was sent (cleared by hand there) would never differ, so the value
is dropped from `last_applied` and the binding's desired version bumped: the next pass sends it.
A direct PATCH would race the worker holding the binding's lease and leave `last_applied` stale.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict
from lockstep.m365 import wakeup
from lockstep.m365.graph.errors import GraphError
from lockstep.m365.models import Directory, UserBinding
from lockstep.m365.services.errors import MicrosoftRefused
from lockstep.saml.services import microsoft
from lockstep.saml.services.scope import bound_users, domain_name, own_directory

FIELD = "onPremisesImmutableId"


def set_immutable_ids(directory: Directory, domain: str, *, actor: Actor) -> int:
    """Queue the immutable id for each bound account of `domain` lacking it; how many queued."""
    actor.require_write()
    own_directory(directory, actor)
    name = domain_name(domain)
    if directory.domains.filter(name=name, authentication_type="Federated").exists():
        raise Conflict(
            "domain", f"{name} is federated: Microsoft 365 accepts an immutable id only while it is managed."
        )
    try:
        with microsoft.graph_client(directory) as client:
            lacking = {str(a["id"]) for a in microsoft.accounts_of_domain(client, name) if not a.get(FIELD)}
    except GraphError as error:
        raise MicrosoftRefused("domain", microsoft.unreachable_words(error), kind=error.kind) from error
    queued: list[str] = []
    with transaction.atomic():
        for binding in bound_users(directory, name).select_for_update(of=("self",)):
            if binding.remote_id not in lacking:
                continue
            applied = dict(binding.last_applied or {})
            applied.pop(FIELD, None)
            UserBinding.objects.filter(pk=binding.pk).update(
                last_applied=applied,
                desired_version=F("desired_version") + 1,
                changed_at=timezone.now(),
                retry_at=None,
            )
            queued.append(binding.remote_upn or (binding.user.email if binding.user else binding.remote_id))
        if queued:
            audit.record(
                actor=actor,
                action="saml.immutable_ids.queue",
                target_type="directory",
                target_id=directory.pk,
                target_label=f"{directory.name}: {name}",
                after={"domain": name, "count": len(queued), "accounts": sorted(queued)[:100]},
            )
    if queued:
        wakeup.notify()
    return len(queued)
