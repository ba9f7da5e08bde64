"""A small typed Microsoft Graph client: tokens, transport, batch, paging, delta, errors.

It knows nothing of Django or of Lockstep's models; callers hand it a `DirectoryConnection`.

Modules: `clouds` (national clouds), `connection` (what to connect to), `auth` (msal tokens),
`ratelimit` (pacing hooks, RU costs), `transport` (httpx, retries, accounting), `errors`
(taxonomy), `classify` (a failed response or token request -> its error), `odata` (filters),
`paging`, `delta`, `batch`, `payloads` (TypedDicts), `client` (`GraphClient`, built from
`base_client`, `user_calls` and `group_calls`).
"""

from .batch import BatchExecutor, BatchRequest, BatchResult
from .client import GraphClient
from .clouds import CLOUDS, Cloud, resolve_cloud
from .connection import CertificateCredential, DirectoryConnection
from .delta import DeltaRound
from .errors import (
    FatalForDirectory,
    GraphError,
    MaybeCommitted,
    PermanentForObject,
    Throttled,
    Transient,
)
from .ratelimit import NoRateLimit, RateLimiter, TokenBucket
from .transport import RequestStats, RetryPolicy

__all__ = [
    "CLOUDS",
    "BatchExecutor",
    "BatchRequest",
    "BatchResult",
    "CertificateCredential",
    "Cloud",
    "DeltaRound",
    "DirectoryConnection",
    "FatalForDirectory",
    "GraphClient",
    "GraphError",
    "MaybeCommitted",
    "NoRateLimit",
    "PermanentForObject",
    "RateLimiter",
    "RequestStats",
    "RetryPolicy",
    "Throttled",
    "TokenBucket",
    "Transient",
    "resolve_cloud",
]
