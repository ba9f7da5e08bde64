"""OData building, cloud table, token bucket and cost estimates (pure)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockstep.m365.graph import odata
from lockstep.m365.graph.clouds import CLOUDS, resolve_cloud
from lockstep.m365.graph.connection import CertificateCredential, DirectoryConnection
from lockstep.m365.graph.ratelimit import TokenBucket, estimate_cost


def test_literals() -> None:
    assert odata.literal("O'Brien") == "'O''Brien'"
    assert odata.literal("''") == "''''''"
    assert odata.literal(True) == "true"
    assert odata.literal(None) == "null"
    assert odata.literal(3) == "3"
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert odata.literal(u) == "'12345678-1234-5678-1234-567812345678'"


@given(st.text())
def test_literal_round_trips(value: str) -> None:
    lit = odata.literal(value)
    assert lit[0] == lit[-1] == "'"
    inner = lit[1:-1]
    # every quote inside is doubled, so the literal cannot be closed early
    assert "'" not in inner.replace("''", "")
    assert inner.replace("''", "'") == value


def test_filters() -> None:
    assert odata.eq("userPrincipalName", "a'b@x.com") == "userPrincipalName eq 'a''b@x.com'"
    assert odata.starts_with("displayName", "Jo") == "startsWith(displayName, 'Jo')"
    assert odata.proxy_address("a@x.com") == "proxyAddresses/any(x:x eq 'smtp:a@x.com')"
    assert odata.or_("a eq 1", "b eq 2 and c eq 3") == "a eq 1 or (b eq 2 and c eq 3)"
    assert odata.and_("a eq 1", "b eq 2 or c eq 3") == "a eq 1 and (b eq 2 or c eq 3)"
    with pytest.raises(ValueError):
        odata.eq("bad prop)", "x")
    with pytest.raises(ValueError):
        odata.in_("id", [str(i) for i in range(16)])


def test_in_chunks_of_fifteen_dedup_in_order() -> None:
    values = [f"u{i}" for i in range(40)] + ["u0", "u1"]
    chunks = list(odata.in_chunks("id", values))
    assert len(chunks) == 3
    assert chunks[0].startswith("id in ('u0', 'u1'")
    assert chunks[0].count("'u") == 15 and chunks[2].count("'u") == 10


def test_select() -> None:
    assert odata.select(["id", "mail", "id"]) == "id,mail"
    with pytest.raises(ValueError):
        odata.select([])


def test_clouds() -> None:
    gov = resolve_cloud("us_gov")
    assert gov.authority("t1") == "https://login.microsoftonline.us/t1"
    assert gov.graph_base == "https://graph.microsoft.us/v1.0"
    assert gov.scope == "https://graph.microsoft.us/.default"
    assert CLOUDS["us_dod"].graph_root == "https://dod-graph.microsoft.us"
    assert CLOUDS["china"].login_base == "https://login.partner.microsoftonline.cn"
    custom = resolve_cloud(login_base_url="https://127.0.0.1:9/", graph_base_url="https://127.0.0.1:9/v1.0")
    assert custom.name == "custom" and not custom.is_microsoft
    assert custom.graph_base == "https://127.0.0.1:9/v1.0"
    assert custom.scope == "https://graph.microsoft.com/.default"
    with pytest.raises(ValueError):
        resolve_cloud("germany")
    with pytest.raises(ValueError):
        resolve_cloud("custom", login_base_url="https://x")


def test_connection_validation() -> None:
    with pytest.raises(ValueError):
        DirectoryConnection(tenant_id="t", client_id="c")
    with pytest.raises(ValueError):
        DirectoryConnection(
            tenant_id="t",
            client_id="c",
            client_secret="s",
            certificate=CertificateCredential(private_key_pem="k", thumbprint_sha1="AB"),
        )
    with pytest.raises(ValueError):
        CertificateCredential(private_key_pem="k")
    conn = DirectoryConnection(tenant_id="t", client_id="c", client_secret="s3cret")
    assert "s3cret" not in repr(conn)
    assert (
        conn.credential_key()
        != DirectoryConnection(tenant_id="t", client_id="c", client_secret="x").credential_key()
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def test_token_bucket_paces_after_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, capacity=20, clock=clock, sleep=clock.sleep)
    for _ in range(20):
        bucket.acquire(1)
    assert clock.slept == []
    bucket.acquire(5)
    assert clock.slept == [pytest.approx(0.5)]
    clock.now += 10
    bucket.acquire(1)
    assert len(clock.slept) == 1
    bucket.penalize(3.0)
    bucket.acquire(1)
    assert clock.slept[-1] == pytest.approx(3.0)
    assert bucket.waited == pytest.approx(3.5)


def test_cost_estimates() -> None:
    assert estimate_cost("GET", "https://g/v1.0/users") == 2
    assert estimate_cost("GET", "https://g/v1.0/users?$select=id") == 1
    assert estimate_cost("GET", "https://g/v1.0/groups/1/members") == 3
    assert estimate_cost("GET", "https://g/v1.0/groups/1/members?%24top=5") == 2
    assert estimate_cost("GET", "https://g/v1.0/subscribedSkus") == 3
    assert estimate_cost("PATCH", "https://g/v1.0/users/1") == 1
    assert estimate_cost("GET", "https://g/v1.0/users/1") == 1
