"""Scriptable fault injection for m365sim.

A :class:`FaultSet` holds :class:`Fault` rules. Each rule matches a method (or any) and a path
regex (``re.search`` on the request path, e.g. ``/v1.0/users``; requests inside ``$batch`` are
matched as ``/v1.0`` + their relative url), fires with a probability (seeded RNG) and/or at most
``count`` times, and has a kind:

``status``          answer ``status`` (500, 503, ...) with a Graph error body (+ Retry-After if set)
``throttle``        answer 429 with the §5 body and ``Retry-After: retry_after`` (a "429 storm")
``hang``            sleep ``seconds`` before handling the request normally (client timeouts)
``reset``           read the request, then drop the connection without any response
``lost_response``   handle the request (the write is applied), then drop the connection
``applied_status``  handle the request (the write is applied), then answer ``status`` with a Graph
                    error body anyway (graph-facts §8.1: creating a federation configuration can
                    answer 500 yet leave the domain federated)
``consent_revoked`` tokens are issued without ``roles``; Graph calls get 403 Authorization_RequestDenied
``secret_expired``  the token endpoint answers AADSTS7000222 to client-secret requests
``latency``         add ``seconds`` + uniform(0, ``jitter``) before every matching request
``replication_lag`` objects matching ``target`` (a regex searched in their id, userPrincipalName,
                    displayName and mailNickname; None = every object) lag ``seconds`` after their
                    create, restore or membership change (see replication.py, graph-facts §12.2)

``consent_revoked`` and ``secret_expired`` may be limited to one ``app_id`` (client id).
:class:`Faults` (``sim.faults``) applies them through the hooks of ``graph.core.dispatch``
(``before``/``after``, for top-level and ``$batch`` inner requests) and of the token endpoint
(``before_login``). HTTP control API (:func:`fault_routes`): ``GET/POST/DELETE /_sim/faults``,
``DELETE /_sim/faults/{id}``, ``POST /_sim/faults/seed``.

The rules are in `fault_rules`, what a fault answers in `fault_responses`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .fault_responses import (
    DropConnection,
    Receive,
    Scope,
    Send,
    consent_denied_response,
    fault_response,
    login_fault_body,
    secret_expired_body,
    token_error_response,
)
from .fault_rules import Fault, FaultSet
from .throttle import format_retry_after

# ----- the simulator hook (`sim.faults`) ------------------------------------------------------------


class Faults(FaultSet):
    """`sim.faults`: a FaultSet wired to the Graph dispatcher and the token endpoint.

    Graph requests are matched as `/v1.0` + their path (inner `$batch` requests too).
    """

    def __init__(self, sim: Any = None, seed: int | None = 0) -> None:
        super().__init__(seed)
        self.sim = sim
        self._batch_effects: dict[str, list[Any]] = {}

    def _current(self) -> FaultSet:
        """The simulator's live FaultSet (re-installs this one if `sim.faults` was unset)."""
        live = getattr(self.sim, "faults", None)
        if isinstance(live, FaultSet):
            return live
        if self.sim is not None:
            self.reset()
            self.sim.faults = self
        return self

    def reset(self) -> None:
        """Called by `Simulator.reset` after the tenant was rebuilt: drop every rule."""
        vars(self).setdefault("_saved_consent", {}).clear()
        FaultSet.clear(self)

    # consent_revoked also flips `consentGranted` on the matching app registrations while the
    # fault exists, so the token endpoint issues tokens without `roles`; removing the fault
    # restores the previous value.
    def add(self, kind: str | Fault, **options: Any) -> Fault:
        fault = super().add(kind, **options)
        if fault.kind == "consent_revoked":
            self._apply_consent()
        return fault

    def remove(self, fault_id: str) -> bool:
        removed = super().remove(fault_id)
        self._apply_consent()
        return removed

    def clear(self) -> None:
        super().clear()
        self._apply_consent()

    def _apply_consent(self) -> None:
        tenant = getattr(self.sim, "tenant", None)
        if tenant is None:
            return
        with self._lock:
            revoked = [f.app_id for f in self._faults if f.kind == "consent_revoked"]
        saved: dict[str, bool] = vars(self).setdefault("_saved_consent", {})
        for app in tenant.apps.values():
            hit = any(app_id in (None, app.appId) for app_id in revoked)
            if hit and app.appId not in saved:
                saved[app.appId] = app.consentGranted
                app.consentGranted = False
            elif not hit and app.appId in saved:
                app.consentGranted = saved.pop(app.appId)

    # Graph dispatcher hooks
    def before(self, req: Any) -> Any:
        if not self._faults:
            return None
        from m365sim.graph.core import GraphResponse

        path = "/v1.0" + req.path
        if req.app_id and self.consent_revoked(req.app_id, req.method, path, inner=req.in_batch):
            status, headers, body = consent_denied_response(req.request_id, req.client_request_id)
            return GraphResponse(status, body, headers)
        fault = self.pick(req.method, path, inner=req.in_batch)
        if fault is None:
            return None
        if fault.kind in ("status", "throttle"):
            status, headers, body = fault_response(fault, req.request_id, req.client_request_id)
            return GraphResponse(status, body, headers)
        if fault.kind == "reset":
            return GraphResponse(503, None, {}, drop_connection=True)
        vars(req)["_m365sim_fault"] = fault  # hang / lost_response / applied_status: after the handler
        return None

    def after(self, req: Any, resp: Any) -> Any:
        fault = vars(req).pop("_m365sim_fault", None)
        if fault is not None:
            if fault.kind == "hang":
                resp.delay_s += fault.seconds
            elif fault.kind == "lost_response":
                resp.drop_connection = True
            elif fault.kind == "applied_status":
                resp.status, resp.headers, resp.body = fault_response(
                    fault, req.request_id, req.client_request_id
                )
        if self._faults:
            resp.delay_s += self.latency(req.method, "/v1.0" + req.path)
        # $batch answers inner responses in its body: an inner drop or delay applies to the
        # whole batch (inner requests share the outer request id).
        if req.in_batch:
            if resp.drop_connection or resp.delay_s:
                with self._lock:
                    effect = self._batch_effects.setdefault(req.request_id, [False, 0.0])
                    effect[0] = effect[0] or resp.drop_connection
                    effect[1] += resp.delay_s
        elif self._batch_effects:
            with self._lock:
                pending = self._batch_effects.pop(req.request_id, None)
            if pending is not None:
                resp.drop_connection = resp.drop_connection or pending[0]
                resp.delay_s += pending[1]
        return resp

    # token endpoint hook
    def before_login(self, tenant: str, form: dict[str, Any]) -> Any:
        """Called by the token endpoint with the parsed form; may answer instead."""
        if not self._faults:
            return None
        path = f"/{tenant}/oauth2/v2.0/token"
        client_id = _first(form.get("client_id"))
        if form.get("client_secret") is not None and self.secret_expired(client_id, path):
            return token_error_response(401, secret_expired_body(client_id or ""))
        fault = self.pick("POST", path)
        if fault is None:
            return None
        if fault.kind == "throttle":
            headers = {"Retry-After": format_retry_after(fault.retry_after or 1.0)}
            return token_error_response(429, login_fault_body(503), headers)
        if fault.kind == "status":
            headers = (
                {} if fault.retry_after is None else {"Retry-After": format_retry_after(fault.retry_after)}
            )
            return token_error_response(fault.status, login_fault_body(fault.status), headers)
        if fault.kind in ("reset", "lost_response"):
            return DropConnection()
        if fault.kind == "hang":
            return _Delayed(fault.seconds)
        return None

    def control_routes(self) -> list[BaseRoute]:
        return fault_routes(self._for_request)

    def _for_request(self, request: Request) -> FaultSet | None:
        """The faults of the ``?tenant=`` tenant (default: this simulator's), None if unknown."""
        name = request.query_params.get("tenant")
        if not name:
            return self._current()
        target = self.sim.tenant_sim(name) if self.sim is not None else None
        faults = getattr(target, "faults", None)
        return faults._current() if isinstance(faults, Faults) else None


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value)


class _Delayed:
    """Sleeps, then lets the request go on: the token endpoint awaits `.wait()` if present."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(self.seconds)
        await send({"type": "http.response.start", "status": 504, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def create(sim: Any) -> Faults:
    return Faults(sim)


# ----- HTTP control API ---------------------------------------------------------------------------


def fault_routes(current: Callable[[Request], FaultSet | None]) -> list[BaseRoute]:
    """`/_sim/faults` routes: GET lists, POST adds (JSON Fault fields), DELETE clears.
    `current(request)` is the FaultSet the request acts on (None: unknown ``?tenant=``)."""

    def unknown(request: Request) -> Response:
        name = request.query_params.get("tenant")
        return JSONResponse({"error": f"unknown tenant {name!r}"}, status_code=404)

    async def collection(request: Request) -> Response:
        faults = current(request)
        if faults is None:
            return unknown(request)
        if request.method == "GET":
            return JSONResponse({"value": faults.list()})
        if request.method == "DELETE":
            faults.clear()
            return Response(status_code=204)
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")
            fault = faults.add(Fault.from_dict(data))
        except (ValueError, TypeError, re.error) as problem:
            return JSONResponse({"error": {"code": "badRequest", "message": str(problem)}}, status_code=400)
        return JSONResponse(fault.to_dict(), status_code=201)

    async def single(request: Request) -> Response:
        faults = current(request)
        if faults is None:
            return unknown(request)
        if faults.remove(request.path_params["fault_id"]):
            return Response(status_code=204)
        return JSONResponse({"error": {"code": "notFound", "message": "no such fault"}}, status_code=404)

    async def seed(request: Request) -> Response:
        faults = current(request)
        if faults is None:
            return unknown(request)
        data = await request.json()
        faults.seed(data.get("seed") if isinstance(data, dict) else None)
        return Response(status_code=204)

    return [
        Route("/_sim/faults", collection, methods=["GET", "POST", "DELETE"]),
        Route("/_sim/faults/seed", seed, methods=["POST"]),
        Route("/_sim/faults/{fault_id}", single, methods=["DELETE"]),
    ]
