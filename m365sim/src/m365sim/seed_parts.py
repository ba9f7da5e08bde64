"""What the seed tenants (`seeds`) are made of: the demo app's ids and permissions, the SKUs,
name lists, and helpers adding the Lockstep app, users (cloud-only or synced from AD) and groups."""

from __future__ import annotations

import base64
import random
import time
import uuid
from typing import Any

from m365sim.graph.groups import new_group_dict
from m365sim.graph.user_schema import new_user_dict
from m365sim.state import (
    USER_ADMIN,
    AppRegistration,
    Secret,
    Tenant,
)

DEMO_TENANT_ID = "7c6f3b2a-4d5e-4f60-8a1b-2c3d4e5f6a7b"
DEMO_CLIENT_ID = "5e3ce6c0-2b1f-4285-8d4b-75ee78787346"
DEMO_CLIENT_SECRET = "lsd8Q~demo-secret-not-for-production-0123456789"
GODADDY_TENANT_ID = "0b5f9d3e-1c2a-4b7d-9e8f-6a5b4c3d2e1f"
LARGE_TENANT_ID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
# Exactly what Lockstep's set-up guide (docs/m365-setup.md §3) asks for, plus the User
# Administrator role (lockstep_app): a permission Lockstep forgets shows up as a 403 in tests.
# m365sim never imports Lockstep; a Lockstep test keeps this equal to REQUIRED_PERMISSIONS.
LOCKSTEP_PERMISSIONS = [
    "User.ReadWrite.All",
    "Group.ReadWrite.All",
    "Domain.Read.All",
    "RoleManagement.Read.Directory",
    "Domain-InternalFederation.ReadWrite.All",
]
SKU_E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # SPE_E3
SKU_EXO = "4b9405b0-7788-4568-add1-99614e613b69"  # EXCHANGESTANDARD
SKU_PBI = "f8a1db68-be16-40ed-86d5-cb42ce701560"  # POWER_BI_PRO (no seats left in demo)
DEMO_PASSWORD = "Demo-Pass-2024!x"  # every seeded user's password

FIRST = [
    "Adele",
    "Alex",
    "Allan",
    "Bianca",
    "Christie",
    "Debra",
    "Diego",
    "Emily",
    "Enrico",
    "Grady",
    "Henrietta",
    "Irvin",
    "Isaiah",
    "Johanna",
    "Joni",
    "Lee",
    "Lidia",
    "Lynne",
    "Megan",
    "Miriam",
    "Nestor",
    "Patti",
    "Pradeep",
    "Raul",
    "Sam",
    "Tina",
    "Victor",
    "Wanda",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Vance",
    "Wilber",
    "Deyoung",
    "Pinto",
    "Cline",
    "Berg",
    "Siciliani",
    "Braun",
    "Gartner",
    "Archie",
    "Cerrato",
    "Sayer",
    "Langer",
    "Lauer",
    "Sherman",
    "Gu",
    "Holloway",
    "Robbins",
    "Bowen",
    "Graham",
    "Wilke",
    "Fernandez",
    "Gupta",
    "Ortiz",
    "Khan",
    "Muller",
    "Nakamura",
    "Osei",
    "Petrov",
    "Quinn",
]


def rng_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def lockstep_app(
    t: Tenant, rng: random.Random, client_id: str = DEMO_CLIENT_ID, secret: str = DEMO_CLIENT_SECRET
) -> AppRegistration:
    app = AppRegistration(
        appId=client_id,
        displayName="Lockstep",
        servicePrincipalId=rng_uuid(rng),
        applicationObjectId=rng_uuid(rng),
        secrets=[Secret(keyId=rng_uuid(rng), secretText=secret, endDateTime=time.time() + 2 * 365 * 86400)],
        roles=list(LOCKSTEP_PERMISSIONS),
        consentGranted=True,
        redirectUris=["http://localhost", "https://localhost", "http://127.0.0.1", "https://127.0.0.1"],
    )
    t.add_app(app)
    t.assign_role(app.servicePrincipalId, USER_ADMIN)
    return app


def seed_user(
    t: Tenant,
    rng: random.Random,
    first: str,
    last: str,
    domain: str,
    *,
    licensed: bool = True,
    enabled: bool = True,
    immutable: bool = False,
    nick: str | None = None,
    sku: str = SKU_E3,
) -> dict[str, Any]:
    nick = nick or f"{first}.{last}".lower()
    upn = f"{nick}@{domain}"
    u = new_user_dict(rng_uuid(rng), upn, f"{first} {last}", nick, enabled)
    u.update(
        givenName=first,
        surname=last,
        jobTitle=rng.choice(["Engineer", "Analyst", "Manager", "Designer", None]),
        department=rng.choice(["Sales", "R&D", "Finance", "Operations"]),
        usageLocation="US" if licensed else None,
    )
    if licensed:
        u["mail"] = upn
        u["proxyAddresses"] = [f"SMTP:{upn}"]
        u["assignedLicenses"] = [{"skuId": sku, "disabledPlans": []}]
    if immutable:
        u["onPremisesImmutableId"] = (
            base64.b64encode(uuid.UUID(u["id"]).bytes)
            .decode()
            .rstrip("=")
            .replace("+", "A")
            .replace("/", "B")
        )
    t.users[u["id"]] = u
    t.passwords[u["id"]] = DEMO_PASSWORD
    t.index_user(u)
    return u


def synced_from_ad(t: Tenant, u: dict[str, Any]) -> None:
    """Mark a demo user as synced from on-premises AD by Entra Connect (graph-facts §12.3):
    its synced properties are read-only in the cloud; the immutable id is the AD objectGUID."""
    t.unindex_user(u)
    if not u.get("onPremisesImmutableId"):
        u["onPremisesImmutableId"] = base64.b64encode(uuid.UUID(u["id"]).bytes).decode()
    u["onPremisesSyncEnabled"] = True
    u["onPremisesLastSyncDateTime"] = "2024-05-01T06:30:00Z"
    t.index_user(u)


def seed_group(
    t: Tenant,
    rng: random.Random,
    name: str,
    nick: str,
    mail_enabled: bool,
    security: bool,
    unified: bool,
    members: list[str],
) -> dict[str, Any]:
    g = new_group_dict(rng_uuid(rng), name, nick, mail_enabled, security, ["Unified"] if unified else [])
    g["description"] = f"{name} (seeded)"
    if mail_enabled:
        mail = f"{nick}@{t.default_domain().id}"
        g["mail"] = mail
        g["proxyAddresses"] = [f"SMTP:{mail}"]
    t.groups[g["id"]] = g
    t.index_group(g)
    for m in members:
        t.add_member(g["id"], m)
    return g
