"""The ASGI application: ``create_app(sim) -> Starlette``.

Routes
------
* ``/v1.0/{path}``                        Graph v1.0 (all methods) -> ``graph.core.dispatch``
* ``/{tenant}/oauth2/v2.0/token``         Entra client-credentials token endpoint (tokens.py)
* ``/{tenant}/v2.0/.well-known/openid-configuration``, ``/{tenant}/discovery/v2.0/keys``
* ``/{tenant}/adminconsent``, ``/{tenant}/v2.0/adminconsent``
* ``/_sim/...``                           control API (control.py)
* whatever ``saml_sp.routes(sim)`` returns (``/login.srf``, SP metadata, SP-initiated start)

Hook interface for the optional modules (written by another helper)
------------------------------------------------------------------
The simulator works without them; each is picked up if its module imports.

``m365sim.throttle``
    ``create(sim) -> Throttle``; stored as ``sim.throttle``. The dispatcher calls
    ``sim.throttle.charge(req: GraphRequest)`` for every Graph request (each ``$batch`` inner
    request separately, with ``req.in_batch=True``) when ``sim.settings.throttling_enabled``.
    It returns ``None`` or an object with ``.cost: int`` (logged, sent as
    ``x-ms-resource-unit``), ``.headers: dict[str, str]`` (extra response headers, e.g.
    ``x-ms-throttle-limit-percentage``) and ``.response: GraphResponse | None`` (a 429 to send
    instead of running the handler; build bodies with ``errors.error_body``).
    ``req.app_id``, ``req.claims["tid"]``, ``req.method``, ``req.path``, ``req.query`` and
    ``req.header("x-ms-throttle-priority")`` are available; ``sim.tenant.users`` gives the size.

``m365sim.faults``
    ``create(sim) -> Faults``; stored as ``sim.faults``. The dispatcher calls
    ``sim.faults.before(req) -> GraphResponse | None`` after token validation and before
    throttling (returning a response short-circuits: 429/500/503 storms), and
    ``sim.faults.after(req, resp) -> GraphResponse | None`` after the handler ran (the write is
    already applied: set ``resp.drop_connection = True`` for "committed but response lost", or
    ``resp.delay_s`` for a hang/latency). For the token endpoint, ``sim.faults.before_login(
    tenant: str, form: dict) -> Response | None`` (Starlette response) is called if it exists.
    Optional ``sim.faults.control_routes() -> list[Route]`` are mounted under ``/_sim/``.
    Latency: ``sim.latency_ms`` / ``sim.latency_jitter_ms`` are applied to every response.

``m365sim.federation``
    ``graph_routes(sim) -> list[tuple[method, pattern, handler]]`` added to ``sim.router``;
    ``handler(sim, req: GraphRequest) -> GraphResponse`` (raise ``errors.GraphError``).
    Patterns use ``{name}`` segments (``/domains/{id}/federationConfiguration``); handlers run
    under ``sim.lock``. Permission helpers: ``graph.perms.require(req, {...})``.

``m365sim.saml_sp``
    ``routes(sim) -> list[starlette.routing.BaseRoute]``, mounted at the root before the
    ``/{tenant}/...`` routes.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from m365sim.errors import GraphError
from m365sim.graph.core import GraphRequest, GraphResponse, RawText, dispatch, error_response, new_request_ids

if TYPE_CHECKING:
    from m365sim.simulator import Simulator


def optional_module(name: str) -> Any:
    try:
        return importlib.import_module(f"m365sim.{name}")
    except ImportError:
        return None


class DroppedResponse:
    """Announces a body and closes the connection without sending it (response lost)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]})
        raise ConnectionAbortedError("m365sim: dropped connection (fault injection)")


def to_starlette(resp: GraphResponse) -> Response:
    if resp.body is None:
        body = b""
    elif isinstance(resp.body, RawText):
        body = resp.body.encode()
    else:
        body = json.dumps(resp.body).encode()
    return Response(body, status_code=resp.status, headers=resp.headers)


async def graph_endpoint(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    headers = {k.lower(): v for k, v in request.headers.items()}
    raw = request.scope.get("query_string", b"").decode()
    path = "/" + request.path_params["path"]
    greq = GraphRequest(
        method=request.method,
        path=unquote(path),
        query=dict(parse_qsl(raw, keep_blank_values=True)),
        headers=headers,
        base_url=sim.graph_base(request),
        raw_query=raw,
    )
    greq.request_id, greq.client_request_id = new_request_ids(headers)
    body = await request.body()
    if body:
        try:
            greq.body = json.loads(body)
        except ValueError:
            resp = error_response(
                greq,
                GraphError(
                    400,
                    "BadRequest",
                    "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
                ),
            )
            resp.headers.update({"request-id": greq.request_id, "client-request-id": greq.client_request_id})
            return to_starlette(resp)
    resp = dispatch(sim, greq)
    delay = resp.delay_s + sim.latency_s()
    if delay > 0:
        await asyncio.sleep(delay)
    if resp.drop_connection:
        return DroppedResponse()  # type: ignore[return-value]
    return to_starlette(resp)


def create_app(sim: Simulator) -> Starlette:
    from m365sim import control, tokens

    routes: list[BaseRoute] = [
        Route("/v1.0/{path:path}", graph_endpoint, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
    ]
    routes += control.routes(sim)
    saml_sp = optional_module("saml_sp")
    if saml_sp is not None and hasattr(saml_sp, "routes"):
        routes += saml_sp.routes(sim)
    routes += tokens.routes()
    app = Starlette(routes=routes)
    app.state.sim = sim
    return app
