"""Property test: random $filter expressions, served over HTTPS, agree with a Python reference."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from m365sim import seeds

USERS = list(seeds.demo().users.values())
STRING_PROPS = [
    "id",
    "onPremisesImmutableId",
    "displayName",
    "givenName",
    "surname",
    "userPrincipalName",
    "mail",
    "jobTitle",
    "department",
]


def literal(prop: str) -> st.SearchStrategy[str]:
    values = sorted({str(u[prop]) for u in USERS if u.get(prop)})
    return st.sampled_from(values) | st.sampled_from(["zzz", "O'Brien"])


@st.composite
def leaf(draw: st.DrawFn) -> tuple[str, Any]:
    prop = draw(st.sampled_from([*STRING_PROPS, "accountEnabled"]))
    if prop == "accountEnabled":
        v = draw(st.booleans())
        op = draw(st.sampled_from(["eq", "ne"]))
        text = f"accountEnabled {op} {str(v).lower()}"
        return text, (lambda u: (u["accountEnabled"] == v) == (op == "eq"))
    kind = draw(st.sampled_from(["eq", "ne", "startsWith", "in"]))
    value = draw(literal(prop))
    q = value.replace("'", "''")
    low = value.lower()
    if kind == "startsWith":
        prefix = low[: draw(st.integers(1, max(1, len(low))))]
        qp = prefix.replace("'", "''")
        return f"startsWith({prop},'{qp}')", (
            lambda u: isinstance(u.get(prop), str) and u[prop].lower().startswith(prefix)
        )
    if kind == "in":
        other = draw(literal(prop))
        qo = other.replace("'", "''")
        return f"{prop} in ('{q}','{qo}')", (
            lambda u: isinstance(u.get(prop), str) and u[prop].lower() in (low, other.lower())
        )
    if kind == "eq":
        return f"{prop} eq '{q}'", (lambda u: isinstance(u.get(prop), str) and u[prop].lower() == low)
    return f"{prop} ne '{q}'", (lambda u: not (isinstance(u.get(prop), str) and u[prop].lower() == low))


def tree(depth: int) -> st.SearchStrategy[tuple[str, Any]]:
    if depth == 0:
        return leaf()
    sub = tree(depth - 1)

    @st.composite
    def node(draw: st.DrawFn) -> tuple[str, Any]:
        kind = draw(st.sampled_from(["and", "or", "not", "leaf"]))
        if kind == "leaf":
            return draw(leaf())
        a_text, a_fn = draw(sub)
        if kind == "not":
            return f"not({a_text})", (lambda u: not a_fn(u))
        b_text, b_fn = draw(sub)
        if kind == "and":
            return f"({a_text}) and ({b_text})", (lambda u: a_fn(u) and b_fn(u))
        return f"({a_text}) or ({b_text})", (lambda u: a_fn(u) or b_fn(u))

    return node()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expr=tree(2))
def test_filter_matches_reference(graph: httpx.Client, expr: tuple[str, Any]) -> None:
    text, fn = expr
    r = graph.get(
        "/users",
        params={"$filter": text, "$count": "true", "$top": "999", "$select": "id"},
        headers={"ConsistencyLevel": "eventual"},
    )
    assert r.status_code == 200, (text, r.text)
    got = {u["id"] for u in r.json()["value"]}
    assert got == {u["id"] for u in USERS if fn(u)}, text
