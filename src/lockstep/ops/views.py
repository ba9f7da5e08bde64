"""Operations endpoints: /healthz, /readyz, /metrics."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from lockstep.ops.metrics import REGISTRY
from lockstep.ops.readiness import readiness


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Alive: the process answers. Touches no database."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """Ready: database reachable and every migration applied; 503 with the reasons otherwise."""
    state = readiness()
    return JsonResponse(
        {"status": "ready" if state.ready else "not ready", "checks": state.checks},
        status=200 if state.ready else 503,
    )


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition of Lockstep's registry."""
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
