"""The SSO page of a directory: federation status, readiness, federate, roll back, keys (SPEC 6).

Everything here calls `lockstep.saml.services`; the services check roles (owner for federate,
roll back and keys, write for immutable ids and test sign-in). The page only hides what the
signed-in role cannot do. Each action answers with a message and back to the page (303).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from lockstep.console.access import actor_for, forbidden
from lockstep.console.directories.access import portal_view
from lockstep.console.directories.common import tab_context
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, PermissionDenied, ServiceError, ValidationFailed
from lockstep.directory.models import Organization
from lockstep.m365.models import Directory
from lockstep.m365.services.bindings import get_directory
from lockstep.saml import services as sso
from lockstep.saml.services import DomainStatus, Readiness

T = TypeVar("T")


@dataclass(frozen=True)
class DomainCard:
    """One domain's box on the page: its status and, while not federated, its readiness."""

    status: DomainStatus
    readiness: Readiness | None
    readiness_error: str

    @property
    def federated(self) -> bool:
        return self.status.lockstep_state == "federated"


def error_words(error: ServiceError) -> str:
    """A service error as one sentence for a message on the page."""
    if isinstance(error, ValidationFailed):
        return " ".join(f"{field}: {' '.join(rules)}" for field, rules in error.errors.items())
    if isinstance(error, Conflict):
        return error.message
    return str(error)


def _card(directory: Directory, status: DomainStatus, actor: Actor) -> DomainCard:
    if status.is_initial or status.lockstep_state == "federated":
        return DomainCard(status, None, "")
    try:
        return DomainCard(status, sso.readiness(directory, status.domain, actor=actor), "")
    except ServiceError as error:
        return DomainCard(status, None, error_words(error))


def _back(directory: Directory) -> HttpResponse:
    return redirect("directories:sso", directory.pk)


@portal_view()
def sso_page(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    organization = Organization.objects.get(pk=actor.organization_id)
    try:
        statuses = sso.federation_status(directory)
        status_error = ""
    except ServiceError as error:
        statuses, status_error = [], error_words(error)
    context: dict[str, Any] = {
        **tab_context(request, directory, "sso"),
        "cards": [_card(directory, status, actor) for status in statuses],
        "status_error": status_error,
        "keys": sso.key_overview(organization),
        "is_owner": actor.is_owner,
        "can_write": actor.can_write,
    }
    return render(request, "console/directories/sso.html", context)


def _attempt(request: HttpRequest, not_done: str, call: Callable[[], T]) -> tuple[bool, T | None]:
    """Run one service call of a POST: a role it does not allow is the 403 page (as for every
    write); any other refusal becomes an error message saying what was not done, and why."""
    try:
        return True, call()
    except PermissionDenied:
        raise
    except ServiceError as error:
        messages.error(request, f"{not_done}: {error_words(error)}")
        return False, None


def _organization(actor: Actor) -> Organization:
    return Organization.objects.get(pk=actor.organization_id)


@portal_view(post_only=True)
def sso_immutable_ids(request: HttpRequest, pk: int, domain: str) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    done, count = _attempt(
        request,
        f"Immutable ids of {domain} not set",
        lambda: sso.set_immutable_ids(directory, domain, actor=actor),
    )
    if done:
        messages.success(
            request,
            f"Immutable ids of {domain}: {count} account{'s' if count != 1 else ''} queued; "
            "Microsoft 365 follows within seconds.",
        )
    return _back(directory)


@portal_view(post_only=True)
def sso_test(request: HttpRequest, pk: int, domain: str) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    _done, test = _attempt(
        request,
        f"Test sign-in for {domain} not run",
        lambda: sso.test_sign_in(directory, domain, actor=actor),
    )
    if test is None:
        return _back(directory)
    who = test.user.email if test.user is not None else "a user"
    if test.passed:
        messages.success(request, f"Test sign-in for {domain} passed (as {who}).")
    else:
        messages.error(request, f"Test sign-in for {domain} failed (as {who}): {' '.join(test.problems)}")
    return _back(directory)


@portal_view(post_only=True)
def sso_federate(request: HttpRequest, pk: int, domain: str) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    done, _federation = _attempt(
        request, f"{domain} not federated", lambda: sso.federate(directory, domain, actor=actor)
    )
    if done:
        messages.success(
            request,
            f"{domain} federated: sign-ins to Microsoft 365 now come to Lockstep. Microsoft can take "
            "up to two hours to apply it everywhere; until then the domain shows as in progress.",
        )
    return _back(directory)


@portal_view(write_page=True)
def sso_roll_back(request: HttpRequest, pk: int, domain: str) -> HttpResponse:
    """GET: the confirmation page; POST: roll the domain back to managed (cloud passwords)."""
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    if not actor.is_owner:
        return forbidden(request, "Only an owner can roll back federation.")
    if request.method == "POST":
        done, _federation = _attempt(
            request, f"{domain} not rolled back", lambda: sso.roll_back(directory, domain, actor=actor)
        )
        if done:
            messages.success(
                request,
                f"{domain} rolled back to managed: its users sign in to Microsoft 365 with a "
                "Microsoft 365 password again (up to two hours to apply everywhere).",
            )
        return _back(directory)
    context = {**tab_context(request, directory, "sso"), "domain": domain}
    return render(request, "console/directories/sso_roll_back.html", context)


@portal_view(post_only=True)
def sso_signed_requests(request: HttpRequest, pk: int, domain: str) -> HttpResponse:
    """Require (box ticked) or stop requiring signed AuthnRequests from Microsoft 365."""
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    required = request.POST.get("required") == "on"
    done, _result = _attempt(
        request,
        f"Signed sign-in requests for {domain} not changed",
        lambda: sso.set_signed_requests(directory, domain, required=required, actor=actor),
    )
    if done:
        now = (
            "signs its sign-in requests to Lockstep, which refuses unsigned ones"
            if required
            else "may send its sign-in requests to Lockstep unsigned"
        )
        messages.success(
            request, f"Signed sign-in requests for {domain} saved: Microsoft 365 {now} (up to two hours)."
        )
    return _back(directory)


@portal_view(post_only=True)
def sso_key_next(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    _done, key = _attempt(
        request,
        "Next certificate not published",
        lambda: sso.publish_next_key(_organization(actor), actor=actor),
    )
    if key is not None:
        messages.success(
            request,
            f"Next certificate {key.fingerprint[:16]}… published to every federated domain; "
            "promote it once Microsoft 365 has had time to pick it up.",
        )
    return _back(directory)


@portal_view(post_only=True)
def sso_key_promote(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    _done, key = _attempt(
        request,
        "Next certificate not promoted",
        lambda: sso.promote_next_key(_organization(actor), actor=actor),
    )
    if key is not None:
        messages.success(request, f"Certificate {key.fingerprint[:16]}… promoted: it signs from now on.")
    return _back(directory)
