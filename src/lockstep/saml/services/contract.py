"""The value types the SAML services hand to the Admin Portal, the API and the CLI."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class BlockerCode(StrEnum):
    """Why a domain cannot be federated yet (SPEC 6, issue 10 build point 3)."""

    MISSING_IMMUTABLE_ID = "missing_immutable_id"  # a bound user's account lacks onPremisesImmutableId
    NO_BREAK_GLASS = "no_break_glass"  # no enabled Global Administrator on *.onmicrosoft.com
    INITIAL_DOMAIN = "initial_domain"  # the tenant's initial domain cannot be federated
    UNVERIFIED_DOMAIN = "unverified_domain"
    DEFAULT_DOMAIN = (
        "default_domain"  # the tenant's default domain (refused by m365sim; UNCERTAIN at Microsoft)
    )
    UNKNOWN_DOMAIN = "unknown_domain"  # not a domain of the tenant
    UNMANAGED_USERS = "unmanaged_users"  # accounts of the domain Lockstep does not manage
    NO_TEST_SIGN_IN = "no_test_sign_in"  # no passing test sign-in with the active key
    FAILED_TEST_SIGN_IN = "failed_test_sign_in"
    FEDERATED_ELSEWHERE = "federated_elsewhere"  # already federated to another IdP
    INSECURE_ENDPOINTS = "insecure_endpoints"  # LOCKSTEP_BASE_URL is not https:// (real clouds)
    UNREACHABLE = "unreachable"  # Microsoft 365 did not answer: readiness unknown


@dataclass(frozen=True)
class Blocker:
    code: BlockerCode
    message: str  # a plain sentence saying what to do
    users: list[str] = field(default_factory=list)  # UPNs concerned (may be cut to a sample)
    count: int = 0  # how many in all (users may hold a sample)


@dataclass(frozen=True)
class Readiness:
    directory_id: int
    domain: str
    blockers: list[Blocker]
    checked_at: dt.datetime

    @property
    def ready(self) -> bool:
        return not self.blockers


@dataclass(frozen=True)
class DomainStatus:
    domain: str
    is_default: bool
    is_initial: bool
    microsoft_state: str  # Managed / Federated as Microsoft 365 reports it ("" unknown)
    lockstep_state: str  # "" (never federated), federated, rolled_back, failed
    in_progress: bool  # changed less than the propagation time ago: not failed, not final
    changed_at: dt.datetime | None
    issuer_uri: str
    sso_url: str
    metadata_url: str
    last_error: str
    signed_requests: bool = False  # Microsoft 365 must sign its AuthnRequests (set_signed_requests)


@dataclass(frozen=True)
class KeyInfo:
    fingerprint: str
    status: str  # next / active / retired
    not_before: dt.datetime
    not_after: dt.datetime
    published_domains: list[str]  # federated domains where Microsoft 365 holds this certificate
