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
- `key_overview(organization) -> list[KeyInfo]`: the certificates and their expiry;
- `set_signed_requests(directory, domain, *, required, actor) -> DomainFederation` (owner
  only): whether Microsoft 365 must sign its AuthnRequests for the domain (PATCHed at once on a
  federated domain, sent again with every federate).

`directory` is a `lockstep.m365.models.Directory` of the actor's organization (another's is
NotFound); `domain` a domain name (any case). Roles are checked here, not in the views:
`actor.require_owner()` for federate, roll back and keys; `actor.require_write()` for
set_immutable_ids and test_sign_in; reading needs none. Microsoft 365 failures of writes are
`MicrosoftRefused` (a Conflict); readiness reports them as an UNREACHABLE blocker instead.
"""

from lockstep.saml.services.contract import (
    Blocker,
    BlockerCode,
    DomainStatus,
    KeyInfo,
    Readiness,
)
from lockstep.saml.services.federation import federate, federation_status, roll_back
from lockstep.saml.services.immutable_ids import set_immutable_ids
from lockstep.saml.services.readiness import readiness
from lockstep.saml.services.rotation import key_overview, promote_next_key, publish_next_key
from lockstep.saml.services.sign_in_test import test_sign_in
from lockstep.saml.services.signed_requests import set_signed_requests

__all__ = [
    "Blocker",
    "BlockerCode",
    "DomainStatus",
    "KeyInfo",
    "Readiness",
    "federate",
    "federation_status",
    "key_overview",
    "promote_next_key",
    "publish_next_key",
    "readiness",
    "roll_back",
    "set_immutable_ids",
    "set_signed_requests",
    "test_sign_in",
]
