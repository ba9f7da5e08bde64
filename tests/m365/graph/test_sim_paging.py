"""Paging over a tenant with more than 999 users (m365sim `large` seed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lockstep.m365.graph.client import GraphClient

from .conftest import SimServer

USERS = 2500


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    with SimServer(seed="large", users=USERS, groups=5, throttling=False) as srv:
        yield srv


def test_lists_every_user_in_pages_of_999(graph: GraphClient) -> None:
    ids = [u["id"] for u in graph.list_users(select=["id", "userPrincipalName"])]
    assert len(ids) == len(set(ids))
    assert len(ids) >= USERS  # the seed may add a break-glass admin
    assert graph.stats.http_requests == 3  # 999 + 999 + the rest


def test_smaller_pages_follow_next_links(graph: GraphClient) -> None:
    ids = [u["id"] for u in graph.list_users(select=["id"], top=500)]
    assert len(set(ids)) >= USERS
    assert graph.stats.http_requests == (len(ids) + 499) // 500


def test_count_pages(graph: GraphClient) -> None:
    assert graph.count_user_pages() == 3
