"""Bodies of the /sso routes: federation status, readiness, test sign-ins, keys (SPEC 6)."""

from __future__ import annotations

import datetime as dt

from ninja import Schema
from pydantic import ConfigDict, Field, StrictBool


class DomainStatusOut(Schema):
    domain: str
    is_default: bool
    is_initial: bool
    microsoft_state: str = Field(
        description="Managed or Federated as Microsoft 365 reports it; empty: unknown."
    )
    lockstep_state: str = Field(description="Empty (never federated), federated, rolled_back or failed.")
    in_progress: bool = Field(
        description="Changed less than the propagation time (two hours) ago: not failed, not final yet."
    )
    changed_at: dt.datetime | None
    issuer_uri: str
    sso_url: str
    metadata_url: str
    last_error: str
    signed_requests: bool = Field(
        False, description="Microsoft 365 must sign its sign-in requests (AuthnRequests) to Lockstep."
    )


class BlockerOut(Schema):
    code: str = Field(
        description="missing_immutable_id, no_break_glass, initial_domain, unmanaged_users, ..."
    )
    message: str = Field(description="What blocks and what to do, in plain words.")
    users: list[str] = Field(description="The accounts concerned (may be a sample; see count).")
    count: int


class ReadinessOut(Schema):
    directory_id: int
    domain: str
    ready: bool
    blockers: list[BlockerOut]
    checked_at: dt.datetime


class QueuedOut(Schema):
    queued: int = Field(description="Accounts whose onPremisesImmutableId is now queued to be set.")


class TestSignInOut(Schema):
    passed: bool
    problems: list[str]
    user: str | None = Field(description="The email of the user the assertion was built for.")
    key_fingerprint: str
    at: dt.datetime


class FederationOut(Schema):
    domain: str
    state: str = Field(description="federated, rolled_back or failed.")
    issuer_uri: str
    changed_at: dt.datetime
    last_error: str
    signed_requests: bool = Field(
        False, description="Microsoft 365 must sign its sign-in requests (AuthnRequests) to Lockstep."
    )


class SignedRequestsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    required: StrictBool = Field(
        description="true: Microsoft 365 signs its sign-in requests and Lockstep refuses unsigned ones; "
        "false: they may come unsigned (Microsoft's default)."
    )


class KeyOut(Schema):
    fingerprint: str
    status: str = Field(description="next, active or retired.")
    not_before: dt.datetime
    not_after: dt.datetime
    published_domains: list[str] = Field(default_factory=list)
