"""SAML services: what the Admin Portal, the API and the CLI call (never the Graph client directly).

This package's public names are the contract between the surfaces and the federation work:

- `readiness(directory, domain, *, actor) -> Readiness`: what blocks federating `domain`
  (each a `Blocker` with a code, a sentence and the users concerned);
- `set_immutable_ids(directory, domain, *, actor) -> int`: queue `onPremisesImmutableId` for
  every bound user of the (still managed) domain whose account lacks it; the count queued;
- `test_sign_in(directory, domain, *, actor, user=None) -> FederationTest`: build an assertion
  for a bound user of the domain, check it with an independent validator and against the
  account in Microsoft 365;
- `federate(directory, domain, *, actor) -> DomainFederation` (owner only; refuses with
  `Conflict` naming every blocker while readiness is not clear);
- `roll_back(directory, domain, *, actor) -> DomainFederation` (owner only; one action);
- `federation_status(directory) -> list[DomainStatus]`: every domain of the tenant that can
  be federated, with its state as Lockstep and Microsoft 365 see it;
- `publish_next_key(organization, *, actor)` / `promote_next_key(organization, *, actor)`
  (owner only): rotation with overlap across every federated domain of the organization;
- `key_overview(organization) -> list[KeyInfo]`: the certificates and their expiry.

Roles are checked here, not in the views: `actor.require_owner()` for federate, roll back and
keys; `actor.require_write()` for set_immutable_ids and test_sign_in; reading needs none.
"""

from lockstep.saml.services.contract import (
    Blocker,
    BlockerCode,
    DomainStatus,
    KeyInfo,
    Readiness,
)

__all__ = ["Blocker", "BlockerCode", "DomainStatus", "KeyInfo", "Readiness"]
