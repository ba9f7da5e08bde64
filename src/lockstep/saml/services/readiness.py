"""What blocks federating a domain (issue 10, build point 3), read live from Microsoft 365.

Each check reads Graph, not only Lockstep's memory: an immutable id cleared in Microsoft 365,
an account someone added by hand, a Global Administrator removed there all count. Microsoft
365 not answering gives one UNREACHABLE blocker (readiness unknown), never an error page.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone

from lockstep.directory.actors import Actor
from lockstep.m365.graph.client import GraphClient
from lockstep.m365.graph.errors import GraphError
from lockstep.m365.models import Cloud, Directory
from lockstep.saml import endpoints, keys
from lockstep.saml.models import DomainFederation, FederationTest
from lockstep.saml.services import microsoft
from lockstep.saml.services.contract import Blocker, BlockerCode, Readiness
from lockstep.saml.services.scope import bound_users, domain_name, own_directory

SAMPLE = 50  # users named in one blocker; `count` has them all


def _blocker(code: BlockerCode, message: str, users: list[str] | None = None) -> Blocker:
    names = sorted(users or [])
    return Blocker(code, message, names[:SAMPLE], len(names))


def domain_blockers(client: GraphClient, directory: Directory, domain: str) -> list[Blocker]:
    """Unknown, unverified, initial, or federated to another identity provider."""
    found = microsoft.find_domain(client, domain)
    if found is None:
        return [
            _blocker(
                BlockerCode.UNKNOWN_DOMAIN,
                f"{domain} is not a domain of this Microsoft 365 tenant: add and verify it there first.",
            )
        ]
    blockers = []
    if found.get("isInitial") or domain.endswith(".onmicrosoft.com"):
        blockers.append(
            _blocker(
                BlockerCode.INITIAL_DOMAIN,
                f"{domain} is the tenant's initial domain, which Microsoft 365 never federates; "
                "federate a custom domain instead.",
            )
        )
    if found.get("isDefault") and not found.get("isInitial"):
        blockers.append(
            _blocker(
                BlockerCode.DEFAULT_DOMAIN,
                f"{domain} is the tenant's default domain. Federating the default domain is refused "
                "by common tooling and may be by Microsoft 365 (see docs/sso.md): make another "
                "domain the default in the Microsoft 365 admin center first.",
            )
        )
    if not found.get("isVerified"):
        blockers.append(
            _blocker(
                BlockerCode.UNVERIFIED_DOMAIN,
                f"{domain} is not verified in Microsoft 365: verify it (DNS record) first.",
            )
        )
    if found.get("authenticationType") == "Federated":
        config = microsoft.federation_configuration(client, domain) or {}
        if config.get("issuerUri") != _our_issuer(directory, domain):
            blockers.append(
                _blocker(
                    BlockerCode.FEDERATED_ELSEWHERE,
                    f"{domain} is already federated with another identity provider "
                    f"({config.get('displayName') or config.get('issuerUri') or 'unknown'}); "
                    "remove that federation first.",
                )
            )
    return blockers


def _our_issuer(directory: Directory, domain: str) -> str:
    stored = DomainFederation.objects.filter(directory=directory, domain=domain).first()
    return stored.issuer_uri if stored else endpoints.issuer_uri(directory.organization, domain)


def account_blockers(client: GraphClient, directory: Directory, domain: str) -> list[Blocker]:
    """Bound users lacking an immutable id; enabled accounts of the domain Lockstep does not manage."""
    accounts = microsoft.accounts_of_domain(client, domain)
    bound = {b.remote_id: b for b in bound_users(directory, domain) if b.remote_id}
    all_bound = set(
        directory.user_bindings.filter(unbound=False)
        .exclude(remote_id="")
        .values_list("remote_id", flat=True)
    )
    missing, unmanaged = [], []
    for account in accounts:
        upn = str(account.get("userPrincipalName", ""))
        if account.get("id") in bound:
            if not account.get("onPremisesImmutableId"):
                missing.append(upn)
        elif account.get("id") not in all_bound and account.get("accountEnabled") is not False:
            unmanaged.append(upn)
    blockers = []
    if missing:
        blockers.append(
            _blocker(
                BlockerCode.MISSING_IMMUTABLE_ID,
                "These accounts have no onPremisesImmutableId, so Microsoft 365 could not match them to "
                "a sign-in: let Lockstep set them (Set immutable ids) while the domain is still managed.",
                missing,
            )
        )
    if unmanaged:
        blockers.append(
            _blocker(
                BlockerCode.UNMANAGED_USERS,
                "These enabled accounts of the domain are not managed by Lockstep and would lose "
                "sign-in once it is federated: bind them to Lockstep users (import), or disable or "
                "move them first.",
                unmanaged,
            )
        )
    return blockers


def _on_initial_domain(account: dict[str, Any], initial: set[str]) -> bool:
    host = str(account.get("userPrincipalName", "")).rsplit("@", 1)[-1].lower()
    return host in initial or host.endswith(".onmicrosoft.com")


def break_glass_blockers(client: GraphClient) -> list[Blocker]:
    """No enabled Global Administrator on the *.onmicrosoft.com domain: nobody could sign in
    to repair a broken federation (graph-facts §8.1)."""
    initial = {str(d.get("id", "")).lower() for d in client.list_domains() if d.get("isInitial")}
    admins = microsoft.global_administrators(client)
    if any(a.get("accountEnabled") is not False and _on_initial_domain(a, initial) for a in admins):
        return []
    return [
        _blocker(
            BlockerCode.NO_BREAK_GLASS,
            "No enabled Global Administrator signs in with an account on the tenant's .onmicrosoft.com "
            "domain. Create one (a break-glass account) so someone can still sign in and roll back if "
            "federation goes wrong.",
        )
    ]


def sign_in_blockers(directory: Directory, domain: str) -> list[Blocker]:
    """The latest test sign-in must have passed, with the key that signs now."""
    latest = FederationTest.objects.filter(directory=directory, domain=domain).order_by("-at", "-pk").first()
    if latest is not None and not latest.passed:
        problems = " ".join(latest.problems or [])
        return [
            _blocker(
                BlockerCode.FAILED_TEST_SIGN_IN,
                f"The latest test sign-in failed: {problems} Fix that and run the test again.",
            )
        ]
    active = keys.active_key(directory.organization)
    if latest is None or latest.key_fingerprint != active.fingerprint:
        return [
            _blocker(
                BlockerCode.NO_TEST_SIGN_IN,
                "Run a test sign-in for this domain with the current signing key; it must pass.",
            )
        ]
    return []


def endpoint_blockers(directory: Directory) -> list[Blocker]:
    """Microsoft 365 sends browsers only to HTTPS sign-in pages (graph-facts §8.2): the public
    URL must be https:// for a real cloud (m365sim, a custom cloud, also takes http)."""
    base = str(settings.BASE_URL)
    if directory.cloud != Cloud.CUSTOM and not base.lower().startswith("https://"):
        return [
            _blocker(
                BlockerCode.INSECURE_ENDPOINTS,
                f"Lockstep's public URL ({base}, LOCKSTEP_BASE_URL) is not https://; Microsoft 365 sends "
                "users only to HTTPS sign-in pages. Serve Lockstep over HTTPS and set LOCKSTEP_BASE_URL.",
            )
        ]
    return []


def readiness(directory: Directory, domain: str, *, actor: Actor) -> Readiness:
    """Every blocker of federating `domain` now (an empty list: ready)."""
    own_directory(directory, actor)
    name = domain_name(domain)
    blockers: list[Blocker] = endpoint_blockers(directory)
    try:
        with microsoft.graph_client(directory) as client:
            blockers += domain_blockers(client, directory, name)
            if not any(b.code == BlockerCode.UNKNOWN_DOMAIN for b in blockers):
                blockers += account_blockers(client, directory, name)
            blockers += break_glass_blockers(client)
    except GraphError as error:
        blockers.append(_blocker(BlockerCode.UNREACHABLE, microsoft.unreachable_words(error)))
    blockers += sign_in_blockers(directory, name)
    return Readiness(directory.pk, name, blockers, timezone.now())
