"""The Simulator: one served tenant, its settings and hooks; the first one of a server also holds
what the server's tenants share (signing key, Graph router, lock, the tenant registry)."""

from __future__ import annotations

import copy
import dataclasses
import random
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from m365sim import replication
from m365sim.graph.core import Router
from m365sim.state import Settings, Tenant, load_tenant, save_tenant
from m365sim.tenancy import TenantIdentity, rebrand

if TYPE_CHECKING:
    from starlette.requests import Request


class TenantTaken(ValueError):
    """Another tenant of the server already has this tenant id or domain."""


class Simulator:
    """One tenant being served: its state, settings, faults and throttle hook.

    A server serves one or more tenants. The first one (``Simulator(seed)``) is the server's
    *primary* and default tenant: it owns what the tenants share (signing key, Graph router,
    lock, base URL, latency, the across-tenants throttle buckets) and the registry
    ``tenants`` (tenant id -> Simulator, the primary first). :meth:`add_tenant` adds another
    tenant (its own state, settings, faults, throttle buckets, replication lag); `tenancy`
    says how it gets its own ids and domains. Thread-safe through ``lock`` (an RLock shared
    by the tenants of a server).

    ``base_url`` (e.g. ``https://127.0.0.1:8443``) is set by the server once the port is known;
    it is used for ``@odata.nextLink`` and token issuer values when no request is at hand.
    """

    def __init__(
        self,
        seed: str = "demo",
        users: int | None = None,
        groups: int | None = None,
        settings: Settings | None = None,
        state_file: str | Path | None = None,
        base_url: str = "https://127.0.0.1",
        *,
        primary: Simulator | None = None,
        identity: TenantIdentity | None = None,
    ) -> None:
        self.primary: Simulator = primary or self
        self.identity = identity
        self.settings = settings or Settings()
        self.state_file = Path(state_file) if state_file else None
        self.latency_ms = 0.0
        self.latency_jitter_ms = 0.0
        self.faults: Any = None
        self.throttle: Any = None
        self.delta_reset_pending: set[str] = set()  # 'user'/'group': next delta call answers 410
        if primary is None:
            self.lock = threading.RLock()
            self._base_url = base_url
            self.signing_key = self._signing_key()
            self.kid = "m365sim-key-1"
            self.router = Router()
            self.tenants: dict[str, Simulator] = {}
            self._variants = 0
            from m365sim.graph import routes

            routes.register(self)
            self._attach_federation()
        else:
            self.lock = primary.lock
            self.signing_key = primary.signing_key
            self.kid = primary.kid
            self.router = primary.router
            self.tenants = primary.tenants
        self._attach_hooks()
        self.seed_name = seed
        self.seed_args = (users, groups)
        if self.state_file and self.state_file.exists():
            self.tenant = replication.attach(self, load_tenant(self.state_file))
        else:
            self.tenant = replication.attach(self, self._build(seed, users, groups))
        with self.lock:
            self._check_free(self.tenant)
            self._register()

    # ----- what the tenants of one server share ------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.primary._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self.primary._base_url = value

    @property
    def is_primary(self) -> bool:
        return self.primary is self

    def _check_free(self, tenant: Tenant) -> None:
        """ValueError if another served tenant has `tenant`'s id or one of its domains."""
        for other in self.tenants.values():
            if other is self:
                continue
            if other.tenant.id == tenant.id:
                raise TenantTaken(f"tenant {tenant.id} is already served")
            clash = set(other.tenant.domains) & set(tenant.domains)
            if clash:
                raise TenantTaken(f"domain {sorted(clash)[0]} already belongs to tenant {other.tenant.id}")

    def set_tenant_id(self, tenant_id: str) -> None:
        """Serve this tenant under another id (tests that stand one server for one tenant of their own)."""
        with self.lock:
            self.tenant.id = tenant_id
            self._register()

    def _register(self) -> None:
        """(Re-)enter this tenant in the server's registry under its current id, in its place."""
        entries = list(self.tenants.items())
        self.tenants.clear()
        for tid, sim in entries:
            self.tenants[self.tenant.id if sim is self else tid] = sim
        self.tenants.setdefault(self.tenant.id, self)

    def add_tenant(
        self,
        seed: str = "demo",
        users: int | None = None,
        groups: int | None = None,
        *,
        tenant_id: str | None = None,
        domain: str | None = None,
        display_name: str = "",
        settings: Settings | None = None,
    ) -> Simulator:
        """Serve another tenant built from `seed`; returns its Simulator.

        `domain` is its initial domain (default ``tenant<N>.onmicrosoft.com``); its settings
        start as a copy of the primary's. Raises ValueError if the id or a domain is taken.
        """
        host = self.primary
        with host.lock:
            host._variants += 1
            variant = host._variants
            if domain is None:
                n = len(host.tenants) + 1
                while host.tenant_sim(f"tenant{n}.onmicrosoft.com") is not None:
                    n += 1
                domain = f"tenant{n}.onmicrosoft.com"
            if "." not in domain:
                raise ValueError(f"domain {domain!r} is not a domain name")
            identity = TenantIdentity(domain.lower(), variant, display_name=display_name)
            if tenant_id:
                identity = dataclasses.replace(identity, tenant_id=str(uuid.UUID(tenant_id)))
            own = settings or copy.deepcopy(host.settings)
            return Simulator(seed, users, groups, settings=own, primary=host, identity=identity)

    def remove_tenant(self, tenant_id: str) -> bool:
        """Stop serving an added tenant (the primary stays); its tokens stop working."""
        with self.lock:
            sim = self.tenants.get(tenant_id.lower())
            if sim is None or sim.is_primary:
                return False
            del self.tenants[sim.tenant.id]
            hook = getattr(sim.throttle, "forget_tenant", None)
            if hook is not None:
                hook(sim.tenant.id)
            return True

    def client_credentials(self) -> tuple[str, str]:
        """Client id and secret of the tenant's Lockstep app (the demo app in the primary)."""
        if self.identity is None:
            from m365sim import seeds

            return seeds.DEMO_CLIENT_ID, seeds.DEMO_CLIENT_SECRET
        return self.identity.client_id, self.identity.client_secret

    def tenant_sim(self, name: str) -> Simulator | None:
        """The served tenant whose id or verified domain name is `name`."""
        key = name.lower()
        with self.lock:
            sim = self.tenants.get(key)
            if sim is not None:
                return sim
            for sim in self.tenants.values():
                d = sim.tenant.domains.get(key)
                if d is not None and d.isVerified:
                    return sim
        return None

    def resolve_tenant(self, name: str) -> Tenant | None:
        """``name`` is the tenant GUID or any of its verified domain names."""
        sim = self.tenant_sim(name)
        return sim.tenant if sim is not None else None

    def serving(self, claims: dict[str, Any] | None) -> Simulator:
        """The tenant a Graph request with these token claims is served from (default: this)."""
        tid = (claims or {}).get("tid")
        if not tid:
            return self
        return self.tenants.get(str(tid), self)

    def _signing_key(self) -> rsa.RSAPrivateKey:
        """Token-signing key; kept next to ``--state`` so issued tokens survive a restart."""
        path = Path(str(self.state_file) + ".signing-key.pem") if self.state_file else None
        if path is not None and path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if isinstance(key, rsa.RSAPrivateKey):
                return key
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if path is not None:
            path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            path.chmod(0o600)
        return key

    def _attach_federation(self) -> None:
        from m365sim.app import optional_module

        fed = optional_module("federation")
        if fed is not None and hasattr(fed, "graph_routes"):
            for method, pattern, handler in fed.graph_routes(self):
                self.router.add(method, pattern, handler)

    def _attach_hooks(self) -> None:
        from m365sim.app import optional_module

        for name in ("throttle", "faults"):
            mod = optional_module(name)
            if mod is not None and hasattr(mod, "create"):
                setattr(self, name, mod.create(self))

    def _build(self, seed: str, users: int | None, groups: int | None) -> Tenant:
        from m365sim import seeds

        if self.identity is None:
            return seeds.build(seed, users=users, groups=groups)
        built = seeds.build(seed, users=users, groups=groups, variant=self.identity.variant)
        return rebrand(built, self.identity)

    def reset(self, seed: str | None = None, users: int | None = None, groups: int | None = None) -> None:
        """Rebuild the tenant from a seed (default: the one it started with); settings stay."""
        seed = seed or self.seed_name
        if users is None and groups is None and seed == self.seed_name:
            users, groups = self.seed_args
        tenant = replication.attach(self, self._build(seed, users, groups))
        with self.lock:
            self._check_free(tenant)
            self.tenant = tenant
            self._register()
            self.seed_name = seed
            self.seed_args = (users, groups)
            self.delta_reset_pending.clear()
            reset_hook = getattr(self.faults, "reset", None)
            if reset_hook:
                reset_hook()
            reset_hook = getattr(self.throttle, "reset", None)
            if reset_hook:
                reset_hook()

    def save(self, path: str | Path | None = None) -> None:
        target = path or self.state_file
        if target:
            with self.lock:
                save_tenant(self.tenant, target)

    def public_key_pem(self) -> bytes:
        return self.signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def graph_base(self, request: Request | None = None) -> str:
        if request is not None:
            host = request.headers.get("host")
            if host:
                return f"{request.url.scheme}://{host}/v1.0"
        return self.base_url + "/v1.0"

    def latency_s(self) -> float:
        if not self.latency_ms and not self.latency_jitter_ms:
            return 0.0
        return (self.latency_ms + random.uniform(0, self.latency_jitter_ms)) / 1000.0
