"""Seed tenants: ``demo``, ``godaddy`` and the ``large`` generator (graph-facts §7.2).

The demo app registration is public on purpose (it is a demo): ``DEMO_CLIENT_ID`` /
``DEMO_CLIENT_SECRET`` in tenant ``DEMO_TENANT_ID``. Their parts are in `seed_parts`.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import random
import uuid

from m365sim.graph.user_schema import new_user_dict
from m365sim.seed_parts import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_TENANT_ID,
    FIRST,
    GODADDY_TENANT_ID,
    LARGE_TENANT_ID,
    LAST,
    LOCKSTEP_PERMISSIONS,
    SKU_E3,
    SKU_EXO,
    SKU_PBI,
    lockstep_app,
    rng_uuid,
    seed_group,
    seed_user,
    synced_from_ad,
)
from m365sim.state import (
    GLOBAL_ADMIN,
    GROUPS_ADMIN,
    HELPDESK_ADMIN,
    PRIVILEGED_ROLE_ADMIN,
    USER_ADMIN,
    Sku,
    Tenant,
)

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_PASSWORD",
    "DEMO_TENANT_ID",
    "FIRST",
    "GODADDY_TENANT_ID",
    "LARGE_TENANT_ID",
    "LAST",
    "LOCKSTEP_PERMISSIONS",
    "SKU_E3",
    "SKU_EXO",
    "SKU_PBI",
    "build",
    "demo",
    "godaddy",
    "godaddy_signing_cert",
    "large",
    "lockstep_app",
    "seeded_rng",
]


def seeded_rng(base: int, variant: int) -> random.Random:
    """The seed's random source; `variant` > 0 gives another tenant of the same seed its own ids."""
    return random.Random(base if variant == 0 else f"{base}/{variant}")


def demo(variant: int = 0) -> Tenant:
    rng = seeded_rng(1, variant)
    t = Tenant(DEMO_TENANT_ID, "Contoso", "contoso.onmicrosoft.com")
    t.add_domain("contoso.onmicrosoft.com", isInitial=True, isAdminManaged=True)
    t.add_domain("contoso.com", isDefault=True)
    t.add_domain("fabrikam.com")
    t.add_domain("northwind.example", isVerified=False)
    t.skus = {
        SKU_E3: Sku(
            SKU_E3,
            "SPE_E3",
            60,
            [
                {
                    "servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0",
                    "servicePlanName": "EXCHANGE_S_ENTERPRISE",
                    "provisioningStatus": "Success",
                    "appliesTo": "User",
                }
            ],
        ),
        SKU_EXO: Sku(
            SKU_EXO,
            "EXCHANGESTANDARD",
            10,
            [
                {
                    "servicePlanId": "9aaf7827-d63c-4b61-89c3-182f06f82e5c",
                    "servicePlanName": "EXCHANGE_S_STANDARD",
                    "provisioningStatus": "Success",
                    "appliesTo": "User",
                }
            ],
        ),
        SKU_PBI: Sku(
            SKU_PBI,
            "POWER_BI_PRO",
            2,
            [
                {
                    "servicePlanId": "70d33638-9c74-4d01-bfd3-562de28bd4ba",
                    "servicePlanName": "BI_AZURE_P2",
                    "provisioningStatus": "Success",
                    "appliesTo": "User",
                }
            ],
        ),
    }
    admin = seed_user(t, rng, "Break", "Glass", "contoso.onmicrosoft.com", licensed=False, nick="admin")
    t.assign_role(admin["id"], GLOBAL_ADMIN)
    users = []
    for i in range(48):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        domain = "fabrikam.com" if i % 6 == 5 else "contoso.com"
        users.append(
            seed_user(
                t,
                rng,
                first,
                last,
                domain,
                licensed=i % 4 != 3,
                enabled=i % 10 != 9,
                immutable=i % 3 == 0,
                nick=f"{first}.{last}{i}".lower() if i >= 30 else None,
            )
        )
    users[0]["assignedLicenses"].append({"skuId": SKU_PBI, "disabledPlans": []})
    users[1]["assignedLicenses"].append({"skuId": SKU_PBI, "disabledPlans": []})
    t.assign_role(users[2]["id"], USER_ADMIN)
    t.assign_role(users[3]["id"], HELPDESK_ADMIN)
    t.assign_role(users[4]["id"], GLOBAL_ADMIN)
    t.assign_role(users[5]["id"], PRIVILEGED_ROLE_ADMIN)
    t.assign_role(users[6]["id"], GROUPS_ADMIN)
    for synced in users[45:47]:
        synced_from_ad(t, synced)
    ids = [u["id"] for u in users]
    seed_group(t, rng, "Engineering", "engineering", False, True, False, ids[0:12])
    seed_group(t, rng, "Sales Team", "salesteam", False, True, False, ids[12:24])
    seed_group(t, rng, "VPN Users", "vpnusers", False, True, False, ids[0:40:3])
    seed_group(t, rng, "All Company", "allcompany", True, True, True, ids[0:30])
    seed_group(t, rng, "Finance Mail-Enabled Security", "financesec", True, True, False, ids[24:30])
    seed_group(t, rng, "Sales Distribution List", "salesdl", True, False, False, ids[12:18])
    lockstep_app(t, rng)
    return t


@functools.lru_cache(maxsize=1)
def godaddy_signing_cert() -> str:
    """A stand-in for the GoDaddy IdP token-signing certificate (base64 DER, no PEM header)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sso.godaddy.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=730))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def godaddy(variant: int = 0) -> Tenant:
    """A GoDaddy-operated tenant: NETORG initial domain, custom domain federated to GoDaddy."""
    rng = seeded_rng(2, variant)
    t = Tenant(GODADDY_TENANT_ID, "Bellows Bakery", "NETORG1234567.onmicrosoft.com")
    t.add_domain("NETORG1234567.onmicrosoft.com", isInitial=True)
    d = t.add_domain("bellowsbakery.com", isDefault=True, authenticationType="Federated")
    d.federation = {
        "id": rng_uuid(rng),
        "displayName": "GoDaddy",
        "issuerUri": "urn:godaddy:sso:bellowsbakery.com",
        "metadataExchangeUri": "https://sso.godaddy.com/adfs/services/trust/mex",
        "passiveSignInUri": "https://sso.godaddy.com/adfs/ls/",
        "activeSignInUri": "https://sso.secureserver.net/adfs/services/trust/2005/usernamemixed",
        "signOutUri": "https://sso.godaddy.com/adfs/ls/?wa=wsignout1.0",
        "signingCertificate": godaddy_signing_cert(),
        "nextSigningCertificate": None,
        "preferredAuthenticationProtocol": "wsFed",
        "promptLoginBehavior": "nativeSupport",
        "isSignedAuthenticationRequestRequired": False,
        "federatedIdpMfaBehavior": "acceptIfMfaDoneByFederatedIdp",
        "signingCertificateUpdateStatus": {"certificateUpdateResult": "Success", "lastRunDateTime": None},
    }
    t.skus = {SKU_EXO: Sku(SKU_EXO, "EXCHANGESTANDARD", 10)}
    admin = seed_user(t, rng, "Net", "Admin", "NETORG1234567.onmicrosoft.com", licensed=False, nick="admin")
    t.assign_role(admin["id"], GLOBAL_ADMIN)
    for i in range(6):
        seed_user(t, rng, FIRST[i], LAST[i], "bellowsbakery.com", immutable=True, sku=SKU_EXO)
    seed_group(t, rng, "Bakery Staff", "staff", False, True, False, [u for u in t.users if u != admin["id"]])
    lockstep_app(t, rng)
    return t


def large(users: int = 100_000, groups: int = 1000, variant: int = 0) -> Tenant:
    """N users / M groups built directly as dicts (no validation path): ~1 s per 100k users."""
    rng = seeded_rng(3, variant)
    t = Tenant(LARGE_TENANT_ID, "Large Corp", "largecorp.onmicrosoft.com")
    t.add_domain("largecorp.onmicrosoft.com", isInitial=True)
    t.add_domain("largecorp.com", isDefault=True)
    t.skus = {SKU_E3: Sku(SKU_E3, "SPE_E3", users + 100)}
    template = new_user_dict("", "", "", "", True)
    lic = [{"skuId": SKU_E3, "disabledPlans": []}]
    tu, by_upn, by_mail, by_proxy, pw = t.users, t.by_upn, t.by_mail, t.by_proxy, t.passwords
    nicks = t.user_nick
    ids = []
    for i in range(users):
        uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        nick = f"user{i:06d}"
        upn = f"{nick}@largecorp.com"
        u = dict(template)
        u.update(
            id=uid,
            userPrincipalName=upn,
            displayName=f"{FIRST[i % 30]} {LAST[(i // 30) % 30]} {i}",
            mailNickname=nick,
            givenName=FIRST[i % 30],
            surname=LAST[(i // 30) % 30],
            mail=upn,
            proxyAddresses=[f"SMTP:{upn}"],
            usageLocation="US",
            assignedLicenses=lic,
            businessPhones=[],
            otherMails=[],
            identities=[],
        )
        tu[uid] = u
        by_upn[upn] = uid
        by_mail[upn] = uid
        by_proxy[upn] = uid
        nicks[nick] = {uid}
        pw[uid] = DEMO_PASSWORD
        ids.append(uid)
    for j in range(groups):
        members = ids[j::groups] if groups else []
        seed_group(t, rng, f"Group {j:05d}", f"group{j:05d}", False, True, False, members)
    if ids:
        t.assign_role(ids[0], GLOBAL_ADMIN)
    lockstep_app(t, rng)
    return t


def build(seed: str, users: int | None = None, groups: int | None = None, variant: int = 0) -> Tenant:
    """The seed's tenant; `variant` > 0 draws other object ids (a second tenant of one seed)."""
    if seed == "demo":
        return demo(variant)
    if seed == "godaddy":
        return godaddy(variant)
    if seed == "large":
        return large(users if users is not None else 100_000, groups if groups is not None else 1000, variant)
    raise ValueError(f"unknown seed {seed!r} (demo, godaddy, large)")
