"""The recycle-bin listing before account creates is shared by the passes of a few seconds
(passes are chunks of a few dozen users), and read again when it is older or asked fresh."""

from __future__ import annotations

from typing import Any

from lockstep.m365.graph_port import GraphClientPort
from lockstep.m365.sync_pass import PassResult
from lockstep.m365.user_plan import DELETED_LISTING_REUSE_SECONDS, deleted_users


class CountingClient:
    def __init__(self) -> None:
        self.listings = 0

    def list_deleted_users(self, select: Any = None) -> list[dict[str, Any]]:
        self.listings += 1
        return [{"id": f"gone-{self.listings}", "onPremisesImmutableId": "x"}]


def test_passes_within_the_reuse_time_share_one_listing_then_it_is_read_again() -> None:
    now = [1000.0]
    client = CountingClient()
    port = GraphClientPort(client, clock=lambda: now[0])  # type: ignore[arg-type]
    assert deleted_users(port, PassResult())[0]["id"] == "gone-1"
    now[0] += DELETED_LISTING_REUSE_SECONDS  # the edge itself: still the same listing
    assert deleted_users(port, PassResult())[0]["id"] == "gone-1" and client.listings == 1
    now[0] += 0.001  # one beyond: read again
    assert deleted_users(port, PassResult())[0]["id"] == "gone-2" and client.listings == 2


def test_a_fresh_listing_is_never_an_old_one() -> None:
    client = CountingClient()
    port = GraphClientPort(client, clock=lambda: 5.0)  # type: ignore[arg-type]
    deleted_users(port, PassResult())
    assert deleted_users(port, PassResult(), fresh=True)[0]["id"] == "gone-2" and client.listings == 2
