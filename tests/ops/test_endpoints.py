"""/healthz, /readyz, /metrics and the security headers, through the whole middleware stack."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.http import HttpResponse, JsonResponse
from django.test import Client, RequestFactory
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client.parser import text_string_to_metric_families

from lockstep.ops import csp
from lockstep.ops.middleware import ContentSecurityPolicyMiddleware


def test_healthz_answers_without_touching_the_database(client: Client) -> None:
    # No `db` fixture: pytest-django fails any database access in this test.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["Cache-Control"].startswith("max-age=0")


def test_readyz_is_ready_when_migrated(client: Client, db: None) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


def test_readyz_is_503_naming_an_unapplied_migration(client: Client, db: None) -> None:
    recorder = MigrationRecorder(connection)
    recorder.record_unapplied("ops", "0001_initial")  # rolled back with the test's transaction
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == "ok"
    assert "ops.0001_initial" in body["checks"]["migrations"]
    assert "lockstep migrate" in body["checks"]["migrations"]


def scrape(client: Client) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    matches = [
        v
        for sample_labels, v in samples.get(name, [])
        if all(sample_labels.get(k) == x for k, x in labels.items())
    ]
    assert matches, f"no {name} sample with {labels}; have {samples.get(name)}"
    return sum(matches)


def test_metrics_count_requests_by_route_name_not_path(client: Client, db: None) -> None:
    before = scrape(client)
    old_ok = (
        value(before, "lockstep_http_requests_total", view="healthz", method="GET", status="200")
        if any(
            labels.get("view") == "healthz" for labels, _ in before.get("lockstep_http_requests_total", [])
        )
        else 0.0
    )
    for _ in range(3):
        client.get("/healthz")
    client.get("/no/such/page/12345")
    after = scrape(client)
    assert (
        value(after, "lockstep_http_requests_total", view="healthz", method="GET", status="200") == old_ok + 3
    )
    assert value(after, "lockstep_http_requests_total", view="<unresolved>", status="404") >= 1
    views = {labels["view"] for labels, _ in after["lockstep_http_requests_total"]}
    assert not any("/" in v for v in views), views  # raw paths never become labels
    assert value(after, "lockstep_http_request_duration_seconds_count", view="healthz", method="GET") >= 3


def test_metrics_report_queue_depth_and_oldest_ready_age(client: Client, db: None) -> None:
    from ops_sample_tasks import add

    first = add.enqueue(1, 2)
    add.enqueue(3, 4)
    add.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(5, 6)  # not due yet
    DBTaskResult.objects.filter(id=first.id).update(enqueued_at=timezone.now() - timedelta(seconds=120))
    running = add.enqueue(7, 8)
    DBTaskResult.objects.filter(id=running.id).update(status="RUNNING", started_at=timezone.now())

    samples = scrape(client)
    assert value(samples, "lockstep_task_queue_depth", queue="default", status="READY") == 3
    assert value(samples, "lockstep_task_queue_depth", queue="default", status="RUNNING") == 1
    assert value(samples, "lockstep_task_queue_ready", queue="default") == 2
    age = value(samples, "lockstep_task_queue_oldest_ready_age_seconds", queue="default")
    assert 119 <= age < 180


def test_metrics_queue_gauges_are_zero_on_an_empty_queue(client: Client, db: None) -> None:
    samples = scrape(client)
    assert value(samples, "lockstep_task_queue_depth", queue="default", status="READY") == 0
    assert value(samples, "lockstep_task_queue_oldest_ready_age_seconds", queue="default") == 0


def test_html_responses_carry_the_content_security_policy(client: Client, db: None) -> None:
    response = client.get("/no/such/page/12345")  # Django's HTML 404 page, through every middleware
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    policy = response.headers["Content-Security-Policy"]
    assert policy == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    )
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert len(response.headers["X-Request-ID"]) == 32


def test_json_responses_get_no_csp_but_the_other_headers(client: Client) -> None:
    response = client.get("/healthz")
    assert "Content-Security-Policy" not in response.headers
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "Permissions-Policy" in response.headers


def test_a_view_can_relax_single_directives() -> None:
    def docs_view(request: object) -> HttpResponse:
        return csp.relax(HttpResponse("<html></html>"), style_src="'self' 'unsafe-inline'")

    response = ContentSecurityPolicyMiddleware(docs_view)(RequestFactory().get("/api/v1/docs"))  # type: ignore[arg-type]
    policy = response.headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in policy
    assert "script-src 'self';" in policy  # the rest unchanged
    plain = ContentSecurityPolicyMiddleware(lambda r: JsonResponse({}))(RequestFactory().get("/x"))  # type: ignore[arg-type]
    assert "Content-Security-Policy" not in plain.headers


def test_a_safe_incoming_request_id_is_kept_and_a_bad_one_replaced(client: Client) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "proxy-abc.123"}).headers["X-Request-ID"]
        == "proxy-abc.123"
    )
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"}).headers[
        "X-Request-ID"
    ]
    assert replaced != "bad id\nwith newline" and len(replaced) == 32


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_ops_endpoints_refuse_posts(client: Client, path: str) -> None:
    assert client.post(path).status_code == 405
