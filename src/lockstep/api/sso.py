"""/directories/{id}/sso and /sso/keys: single sign-on (SPEC 6), through `lockstep.saml.services`.

The services check roles (owner: federate, roll back, keys; write: immutable ids, test sign-in)
and raise the errors the API turns into its one error shape. Federating while anything blocks
answers 409 with every blocker in `fields.blockers`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from django.http import HttpRequest, JsonResponse
from ninja import Router

from lockstep.api.auth import actor_of, writer
from lockstep.api.errors import error_responses, json_error
from lockstep.api.sso_schemas import (
    DomainStatusOut,
    FederationOut,
    KeyOut,
    QueuedOut,
    ReadinessOut,
    SignedRequestsIn,
    TestSignInOut,
)
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, ServiceError, ValidationFailed
from lockstep.directory.models import Organization
from lockstep.m365.models import Directory
from lockstep.m365.services.bindings import get_directory
from lockstep.m365.services.errors import MicrosoftRefused
from lockstep.saml import services as sso
from lockstep.saml.services import Readiness

router = Router(tags=["single sign-on"])

# A DNS name as Microsoft 365 lists domains: labels of letters, digits and hyphens.
DOMAIN_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def owner(request: HttpRequest) -> Actor:
    """The caller, who must be an owner (checked before the input, as `writer` does)."""
    actor = actor_of(request)
    actor.require_owner()
    return actor


def _domain(value: str) -> str:
    domain = value.strip().lower()
    if not DOMAIN_NAME.match(domain):
        raise ValidationFailed({"domain": ["Must be a domain name such as contoso.com."]})
    return domain


def _directory(actor: Actor, directory_id: int) -> Directory:
    return get_directory(actor=actor, directory_id=directory_id)


def _organization(actor: Actor) -> Organization:
    return Organization.objects.get(pk=actor.organization_id)


def _readiness(readiness: Readiness) -> dict[str, Any]:
    return {**dataclasses.asdict(readiness), "ready": readiness.ready}


def _federation(federation: Any) -> dict[str, Any]:
    return {
        "domain": federation.domain,
        "state": federation.state,
        "issuer_uri": federation.issuer_uri,
        "changed_at": federation.changed_at,
        "last_error": federation.last_error,
        "signed_requests": federation.require_signed_requests,
    }


@router.get(
    "/directories/{int:directory_id}/sso",
    response={200: list[DomainStatusOut], **error_responses(404, 409)},
    summary="Federation status of every domain of the directory's tenant",
    description="As Microsoft 365 and Lockstep see it. `in_progress`: changed less than two hours ago "
    "(Microsoft's propagation time): not failed, not final.",
)
def status(request: HttpRequest, directory_id: int) -> list[dict[str, Any]]:
    directory = _directory(actor_of(request), directory_id)
    return [dataclasses.asdict(row) for row in sso.federation_status(directory)]


@router.get(
    "/directories/{int:directory_id}/sso/{domain}/readiness",
    response={200: ReadinessOut, **error_responses(404, 409, 422)},
    summary="What blocks federating a domain, with the users concerned",
)
def readiness(request: HttpRequest, directory_id: int, domain: str) -> dict[str, Any]:
    actor = actor_of(request)
    name = _domain(domain)
    return _readiness(sso.readiness(_directory(actor, directory_id), name, actor=actor))


@router.post(
    "/directories/{int:directory_id}/sso/{domain}/immutable-ids",
    response={200: QueuedOut, **error_responses(403, 404, 409, 422)},
    summary="Queue onPremisesImmutableId for every bound user of the (managed) domain lacking it",
)
def immutable_ids(request: HttpRequest, directory_id: int, domain: str) -> dict[str, int]:
    actor = writer(request)
    name = _domain(domain)
    return {"queued": sso.set_immutable_ids(_directory(actor, directory_id), name, actor=actor)}


@router.post(
    "/directories/{int:directory_id}/sso/{domain}/test-sign-in",
    response={200: TestSignInOut, **error_responses(403, 404, 409, 422)},
    summary="Build an assertion for a user of the domain and check it (nothing changes in Microsoft 365)",
)
def test_sign_in(request: HttpRequest, directory_id: int, domain: str) -> dict[str, Any]:
    actor = writer(request)
    name = _domain(domain)
    test = sso.test_sign_in(_directory(actor, directory_id), name, actor=actor)
    return {
        "passed": test.passed,
        "problems": list(test.problems),
        "user": test.user.email if test.user is not None else None,
        "key_fingerprint": test.key_fingerprint,
        "at": test.at,
    }


def _blocked(actor: Actor, directory: Directory, domain: str, refusal: Conflict) -> JsonResponse:
    """409 listing every blocker (each as `code: message`), read again from readiness."""
    try:
        blockers = sso.readiness(directory, domain, actor=actor).blockers
    except ServiceError:
        blockers = []
    listed = [f"{b.code}: {b.message}" + (f" ({', '.join(b.users)})" if b.users else "") for b in blockers]
    fields = {"blockers": listed} if listed else {refusal.field: [refusal.message]}
    return json_error(409, "conflict", refusal.message, fields=fields)


@router.post(
    "/directories/{int:directory_id}/sso/{domain}/federate",
    response={200: FederationOut, **error_responses(403, 404, 409, 422)},
    summary="Federate a domain with Lockstep (owner)",
    description="Refused with 409 while anything blocks it: `fields.blockers` lists each as "
    "`code: message (users)`. Microsoft can take up to two hours to apply it everywhere.",
)
def federate(request: HttpRequest, directory_id: int, domain: str) -> Any:
    actor = owner(request)
    name = _domain(domain)
    directory = _directory(actor, directory_id)
    try:
        return _federation(sso.federate(directory, name, actor=actor))
    except MicrosoftRefused:
        raise
    except Conflict as refusal:
        return _blocked(actor, directory, name, refusal)


@router.post(
    "/directories/{int:directory_id}/sso/{domain}/roll-back",
    response={200: FederationOut, **error_responses(403, 404, 409, 422)},
    summary="Roll a federated domain back to managed in one action (owner)",
    description="Its users then need a Microsoft 365 password to sign in.",
)
def roll_back(request: HttpRequest, directory_id: int, domain: str) -> dict[str, Any]:
    actor = owner(request)
    name = _domain(domain)
    return _federation(sso.roll_back(_directory(actor, directory_id), name, actor=actor))


@router.post(
    "/directories/{int:directory_id}/sso/{domain}/signed-requests",
    response={200: FederationOut, **error_responses(403, 404, 409, 422)},
    summary="Require (or not) signed sign-in requests from Microsoft 365 for a domain (owner)",
    description="Sent to Microsoft 365 at once on a federated domain (isSignedAuthenticationRequest"
    "Required) and with every later federation; 409 for a domain never federated with Lockstep.",
)
def signed_requests(request: HttpRequest, directory_id: int, domain: str, body: SignedRequestsIn) -> Any:
    actor = owner(request)
    name = _domain(domain)
    directory = _directory(actor, directory_id)
    return _federation(sso.set_signed_requests(directory, name, required=body.required, actor=actor))


@router.get(
    "/sso/keys",
    response={200: list[KeyOut], **error_responses()},
    summary="The organization's signing certificates",
)
def keys(request: HttpRequest) -> list[dict[str, Any]]:
    return [dataclasses.asdict(key) for key in sso.key_overview(_organization(actor_of(request)))]


def _key(key: Any) -> dict[str, Any]:
    return {
        "fingerprint": key.fingerprint,
        "status": key.status,
        "not_before": key.not_before,
        "not_after": key.not_after,
        "published_domains": [],
    }


@router.post(
    "/sso/keys/next",
    response={200: KeyOut, **error_responses(403, 409)},
    summary="Publish the next signing certificate to every federated domain (owner)",
)
def publish_next(request: HttpRequest) -> dict[str, Any]:
    actor = owner(request)
    return _key(sso.publish_next_key(_organization(actor), actor=actor))


@router.post(
    "/sso/keys/promote",
    response={200: KeyOut, **error_responses(403, 409)},
    summary="Promote the published next certificate: it signs from now on (owner)",
)
def promote(request: HttpRequest) -> dict[str, Any]:
    actor = owner(request)
    return _key(sso.promote_next_key(_organization(actor), actor=actor))
