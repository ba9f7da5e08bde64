"""$batch against m365sim: dependsOn with 424, outer 503 retried, errors per inner request."""

from __future__ import annotations

from typing import Any

from lockstep.m365.graph import errors as e
from lockstep.m365.graph.batch import BatchRequest
from lockstep.m365.graph.client import GraphClient

from .test_sim_users import new_user, unique


def test_depends_on_failure_gives_424_with_the_cause(graph: GraphClient) -> None:
    taken = unique()
    graph.create_user(new_user(taken))
    first = BatchRequest("POST", "/users", body=dict(new_user(taken)), id="create")
    second = BatchRequest("PATCH", f"/users/{taken}", body={"jobTitle": "x"}, depends_on=["create"])
    r1, r2 = graph.batch([first, second])
    assert isinstance(r1.error, e.ObjectConflict) and r1.error.property == "userPrincipalName"
    assert isinstance(r2.error, e.FailedDependency) and r2.status == 424
    assert r2.error.plain_words == r1.error.plain_words
    assert r1.attempts == r2.attempts == 1


def test_depends_on_success_runs_in_order(graph: GraphClient) -> None:
    upn = unique()
    results = graph.batch(
        [
            BatchRequest("POST", "/users", body=dict(new_user(upn)), id="c"),
            BatchRequest("PATCH", f"/users/{upn}", body={"jobTitle": "Chained"}, id="u", depends_on=["c"]),
            BatchRequest("GET", f"/users/{upn}?$select=jobTitle", depends_on=["u"]),
        ]
    )
    assert [r.status for r in results] == [201, 204, 200]
    assert results[2].body["jobTitle"] == "Chained"


def test_outer_503_is_retried(sim: Any, graph: GraphClient) -> None:
    uid = graph.create_user(new_user(unique()))["id"]
    sim.sim.faults.add("status", method="POST", path=r"/v1\.0/\$batch$", status=503, count=1, inner=False)
    [r] = graph.batch([BatchRequest("PATCH", f"/users/{uid}", body={"jobTitle": "after 503"})])
    assert r.ok
    assert graph.stats.server_errors == 1
    assert graph.get_user(uid, select=["jobTitle"])["jobTitle"] == "after 503"


def test_mixed_outcomes_come_back_in_input_order(graph: GraphClient) -> None:
    ok_upn = unique()
    results = graph.batch(
        [
            BatchRequest("POST", "/users", body=dict(new_user(ok_upn)), id="new"),
            BatchRequest("POST", "/users", body=dict(new_user(unique("northwind.example")))),
            BatchRequest("GET", "/users/00000000-0000-0000-0000-000000000000"),
            BatchRequest("GET", f"/users/{ok_upn}?$select=id", depends_on=["new"]),
        ]
    )
    assert results[0].status == 201
    assert isinstance(results[1].error, e.InvalidDomain)
    assert isinstance(results[2].error, e.NotFound)
    assert results[3].ok and results[3].body["id"] == results[0].body["id"]
