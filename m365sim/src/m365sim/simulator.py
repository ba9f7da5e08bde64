"""The Simulator: one tenant, its settings, signing key, Graph router and optional hooks."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from m365sim import replication
from m365sim.graph.core import Router
from m365sim.state import Settings, Tenant, load_tenant, save_tenant

if TYPE_CHECKING:
    from starlette.requests import Request


class Simulator:
    """Holds the tenant state. Thread-safe through ``lock`` (an RLock).

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
    ) -> None:
        self.lock = threading.RLock()
        self.settings = settings or Settings()
        self.base_url = base_url
        self.state_file = Path(state_file) if state_file else None
        self.latency_ms = 0.0
        self.latency_jitter_ms = 0.0
        self.signing_key = self._signing_key()
        self.kid = "m365sim-key-1"
        self.router = Router()
        self.faults: Any = None
        self.throttle: Any = None
        self.delta_reset_pending: set[str] = set()  # 'user'/'group': next delta call answers 410
        from m365sim.graph import routes

        routes.register(self)
        self._attach_optional()
        self.seed_name = seed
        self.seed_args = (users, groups)
        if self.state_file and self.state_file.exists():
            self.tenant = replication.attach(self, load_tenant(self.state_file))
        else:
            self.tenant = replication.attach(self, self._build(seed, users, groups))

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

    def _attach_optional(self) -> None:
        from m365sim.app import optional_module

        fed = optional_module("federation")
        if fed is not None and hasattr(fed, "graph_routes"):
            for method, pattern, handler in fed.graph_routes(self):
                self.router.add(method, pattern, handler)
        for name in ("throttle", "faults"):
            mod = optional_module(name)
            if mod is not None and hasattr(mod, "create"):
                setattr(self, name, mod.create(self))

    @staticmethod
    def _build(seed: str, users: int | None, groups: int | None) -> Tenant:
        from m365sim import seeds

        return seeds.build(seed, users=users, groups=groups)

    def reset(self, seed: str | None = None, users: int | None = None, groups: int | None = None) -> None:
        """Rebuild the tenant from a seed (default: the one it started with); settings stay."""
        seed = seed or self.seed_name
        if users is None and groups is None and seed == self.seed_name:
            users, groups = self.seed_args
        tenant = replication.attach(self, self._build(seed, users, groups))
        with self.lock:
            self.tenant = tenant
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

    def resolve_tenant(self, name: str) -> Tenant | None:
        """``name`` is the tenant GUID or any of its domain names."""
        t = self.tenant
        if name.lower() == t.id or name.lower() in t.domains:
            return t
        return None
