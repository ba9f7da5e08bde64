"""More tenants of one server: who an added tenant is, and how a seed becomes that tenant.

The first tenant of a server is its seed as is (fixed ids, the demo app). Every tenant added
later (`Simulator.add_tenant`) is a seed built with other object ids (`seeds.build(variant=)`)
and then given its own identity by :func:`rebrand`:

* its tenant id (a new GUID unless given),
* its initial domain (``tenant2.onmicrosoft.com`` unless given) in place of the seed's; every
  other domain of the seed becomes a subdomain named after it (``contoso.com`` ->
  ``tenant2.contoso.com``), so no verified domain belongs to two tenants, as at Microsoft;
  UPNs, mail, proxy addresses and other addresses follow their domain,
* its own Lockstep app registration: a client id and secret of its own (each organization
  registers its own app in its own tenant, docs/m365-setup.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from m365sim.seed_parts import DEMO_CLIENT_ID
from m365sim.state import Tenant

_INDEXES = ("by_upn", "by_mail", "by_proxy", "by_immutable", "user_nick", "group_nick")


def new_secret() -> str:
    return f"sim~{uuid.uuid4().hex}"


@dataclass(frozen=True)
class TenantIdentity:
    """Who an added tenant is; kept so a reset rebuilds the same tenant."""

    initial_domain: str  # e.g. "tenant2.onmicrosoft.com"
    variant: int  # draws the seed's object ids differently from every other tenant
    tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    display_name: str = ""
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_secret: str = field(default_factory=new_secret)

    @property
    def label(self) -> str:
        """The first label of the initial domain: ``tenant2`` of ``tenant2.onmicrosoft.com``."""
        return self.initial_domain.split(".", 1)[0]


def domain_names(t: Tenant, identity: TenantIdentity) -> dict[str, str]:
    """Old domain name (lower case) -> the name it has in the rebranded tenant."""
    return {
        key: identity.initial_domain if d.isInitial else f"{identity.label}.{d.id}"
        for key, d in t.domains.items()
    }


def rebrand(t: Tenant, identity: TenantIdentity) -> Tenant:
    """Give a freshly built seed tenant `identity` (ids, domains, addresses, its app)."""
    names = domain_names(t, identity)
    lower = {old: new.lower() for old, new in names.items()}
    t.id = identity.tenant_id
    t.display_name = identity.display_name or f"{t.display_name} ({identity.label})"
    t.initial_domain = identity.initial_domain.lower()
    domains = dict(t.domains)
    t.domains.clear()
    for old, d in domains.items():
        d.id = names[old]
        if d.federation and isinstance(d.federation.get("issuerUri"), str):
            d.federation["issuerUri"] = d.federation["issuerUri"].replace(old, lower[old])
        t.domains[d.id.lower()] = d
    for objects in (t.users, t.groups):
        for obj in objects.values():
            for key, value in obj.items():
                obj[key] = _readdressed(value, names)
    for name in _INDEXES:
        getattr(t, name).clear()
    for u in t.users.values():
        t.index_user(u)
    for g in t.groups.values():
        t.index_group(g)
    app = t.apps.pop(DEMO_CLIENT_ID, None)
    if app is not None:
        app.appId = identity.client_id
        app.secrets[0].secretText = identity.client_secret
        t.add_app(app)
    return t


def _readdressed(value: Any, names: dict[str, str]) -> Any:
    """`value` with every ``...@old-domain`` address moved to the domain's new name."""
    if isinstance(value, str):
        at = value.rfind("@")
        if at >= 0:
            new = names.get(value[at + 1 :].lower())
            if new is not None:
                return value[: at + 1] + new
        return value
    if isinstance(value, list):
        return [_readdressed(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _readdressed(v, names) for k, v in value.items()}
    return value
