"""A test sign-in: an assertion built for a user of the domain exactly as a real sign-in would
build it, checked by an independent validator and against the account in Microsoft 365.

Federation is refused until one passes with the key that signs now (readiness): a user whose
account would not match the assertion (no or another immutable id, another UPN, a disabled
account) is found before everyone of the domain depends on it.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from lockstep.directory import audit
from lockstep.directory.actors import Actor
from lockstep.directory.errors import NotFound
from lockstep.directory.models import User, UserState
from lockstep.m365.graph.errors import GraphError
from lockstep.m365.graph.errors import NotFound as GraphNotFound
from lockstep.m365.models import Directory, UserBinding
from lockstep.saml import endpoints, keys
from lockstep.saml.models import DomainFederation, FederationTest
from lockstep.saml.response import Audience, Subject, build_response, new_id
from lockstep.saml.services import microsoft
from lockstep.saml.services.scope import bound_users, domain_name, own_directory
from lockstep.saml.services.signature_check import assertion_problems


def issuer_of(directory: Directory, domain: str) -> str:
    """The domain's issuer: the one stored at its first federation, else the one it will get."""
    stored = DomainFederation.objects.filter(directory=directory, domain=domain).first()
    return stored.issuer_uri if stored else endpoints.issuer_uri(directory.organization, domain)


def _binding(directory: Directory, domain: str, user: User | None) -> tuple[UserBinding | None, list[str]]:
    candidates = bound_users(directory, domain).exclude(remote_id="")
    if user is None:
        found = candidates.filter(user__state=UserState.ACTIVE).order_by("pk").first()
        if found is None:
            return None, [f"No active Lockstep user of {domain} has an account in this directory yet."]
        return found, []
    binding = candidates.filter(user=user).first()
    if binding is None:
        return None, [f"{user.username} has no account of this directory in {domain}."]
    if user.state != UserState.ACTIVE:
        return binding, [f"{user.username} is not active, so Lockstep would refuse them an assertion."]
    return binding, []


def account_problems(directory: Directory, binding: UserBinding, user: User, domain: str) -> list[str]:
    """The account in Microsoft 365 must match what the assertion says (graph-facts §8.2)."""
    try:
        with microsoft.graph_client(directory) as client:
            account = dict(client.get_user(binding.remote_id, select=microsoft.ACCOUNT_FIELDS))
    except GraphNotFound:
        return ["The user's account no longer exists in Microsoft 365."]
    except GraphError as error:
        return [microsoft.unreachable_words(error)]
    problems = []
    if account.get("onPremisesImmutableId") != user.immutable_id:
        problems.append(
            "The account's onPremisesImmutableId is not the user's immutable id (the NameID): "
            "Microsoft 365 would answer 'user does not exist' (AADSTS51004)."
        )
    upn = str(account.get("userPrincipalName", "")).lower()
    if upn != binding.remote_upn.lower():
        problems.append(
            f"The account's UPN ({upn}) is not the one Lockstep knows and sends as IDPEmail "
            f"({binding.remote_upn}): let the sync catch up, then test again."
        )
    if not upn.endswith("@" + domain):
        problems.append(f"The account's UPN is not in {domain}.")
    if account.get("accountEnabled") is False:
        problems.append("The account is disabled in Microsoft 365.")
    return problems


def test_sign_in(
    directory: Directory, domain: str, *, actor: Actor, user: User | None = None
) -> FederationTest:
    """Build and check a sign-in for `user` (or the first active user whose account is in `domain`)."""
    actor.require_write()
    own_directory(directory, actor)
    name = domain_name(domain)
    if user is not None and user.organization_id != actor.organization_id:
        raise NotFound("user", user.pk)
    key = keys.active_key(directory.organization)
    binding, problems = _binding(directory, name, user)
    subject_user = binding.user if binding is not None else None
    if subject_user is not None and not problems:
        issuer = issuer_of(directory, name)
        now = dt.datetime.now(dt.UTC)
        assert binding is not None
        upn = binding.remote_upn  # what a real sign-in sends as IDPEmail (the account's UPN)
        xml = build_response(
            Subject(subject_user.immutable_id, upn, False, now, new_id()),
            Audience(issuer, endpoints.acs_url(directory), None),
            key,
            now=now,
        )
        problems = assertion_problems(
            xml,
            key.certificate_pem,
            issuer=issuer,
            name_id=subject_user.immutable_id,
            upn=upn,
            acs_url=endpoints.acs_url(directory),
        )
        problems += account_problems(directory, binding, subject_user, name)
    test = FederationTest.objects.create(
        directory=directory,
        domain=name,
        user=subject_user,
        passed=not problems,
        problems=problems,
        key_fingerprint=key.fingerprint,
        at=timezone.now(),
    )
    audit.record(
        actor=actor,
        action="saml.test_sign_in",
        target_type="directory",
        target_id=directory.pk,
        target_label=f"{directory.name}: {name}",
        after={
            "domain": name,
            "user": subject_user.username if subject_user else "",
            "passed": test.passed,
            "problems": problems,
            "key": key.fingerprint,
        },
    )
    return test


test_sign_in.__test__ = False  # type: ignore[attr-defined]  # a service, not a pytest test
