"""Graph request/response types, the route table and the dispatcher.

Every Graph call, top-level or inside ``$batch``, goes through :func:`dispatch`:

1. bearer token validation (401 ``InvalidAuthenticationToken``) - skipped for batch inner
   requests, which reuse the outer request's claims; from here on the request is served by
   the token's tenant (``tid``): its state, settings, faults and throttle buckets;
2. ``sim.faults.before(req)`` (optional hook) may answer instead;
3. ``sim.throttle.charge(req)`` (optional hook) returns the RU cost and possibly a 429;
4. the route handler (``handler(sim, req) -> GraphResponse``) runs under the tenant lock;
   a raised :class:`GraphError` becomes the §6 error body;
5. ``sim.faults.after(req, resp)`` (optional hook) may replace the response;
6. ``request-id``/``client-request-id``/``x-ms-resource-unit`` headers are added and the
   request is logged in ``tenant.request_log``.

Other modules add Graph routes with :meth:`Router.add` (``federation.py`` exposes
``graph_routes(sim) -> list[(method, pattern, handler)]``; see ``app.py``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from m365sim.errors import GraphError, error_body
from m365sim.state import LoggedRequest, now

if TYPE_CHECKING:
    from m365sim.simulator import Simulator


@dataclass
class GraphRequest:
    method: str
    path: str  # after /v1.0, e.g. "/users/abc"; decoded
    query: dict[str, str]  # "$select" -> "id,displayName"
    headers: dict[str, str]  # lower-case names
    body: Any = None  # parsed JSON (dict) or None
    claims: dict[str, Any] | None = None
    request_id: str = ""
    client_request_id: str = ""
    in_batch: bool = False
    params: dict[str, str] = field(default_factory=dict)
    base_url: str = ""  # "https://127.0.0.1:PORT/v1.0"
    raw_query: str = ""
    auth_error: GraphError | None = None

    @property
    def roles(self) -> set[str]:
        return set((self.claims or {}).get("roles", []))

    @property
    def app_id(self) -> str | None:
        return (self.claims or {}).get("appid")

    @property
    def principal_id(self) -> str | None:
        return (self.claims or {}).get("oid")

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class GraphResponse:
    status: int
    body: Any = None  # dict -> JSON; None -> empty body
    headers: dict[str, str] = field(default_factory=dict)
    drop_connection: bool = False  # set by faults: send nothing and break the connection
    delay_s: float = 0.0  # set by faults/latency: sleep before answering


Handler = Callable[["Simulator", GraphRequest], GraphResponse]


class Router:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """``pattern`` uses ``{name}`` for one path segment, e.g. ``/users/{id}/manager``."""
        parts = re.split(r"(\{\w+\})", pattern)
        rx = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
        rx = "^" + rx + "/?$"
        self.routes.append((method.upper(), re.compile(rx, re.IGNORECASE), handler))

    def match(self, method: str, path: str) -> tuple[Handler | None, dict[str, str], bool]:
        path_found = False
        for m, rx, h in self.routes:
            mo = rx.match(path)
            if mo:
                if m == method:
                    return h, mo.groupdict(), True
                path_found = True
        return None, {}, path_found


def json_response(body: Any, status: int = 200) -> GraphResponse:
    return GraphResponse(status, body, {"Content-Type": "application/json;odata.metadata=minimal"})


class RawText(str):
    """A body sent as-is (text/plain), e.g. for ``/$count``."""


def text_response(text: str) -> GraphResponse:
    return GraphResponse(200, RawText(text), {"Content-Type": "text/plain"})


BYTE_ORDER_MARK = "\ufeff"


def count_response(sim: Simulator, req: GraphRequest, count: int) -> GraphResponse:
    """A `$count` segment's text/plain answer, with a UTF-8 byte-order mark if the setting says so
    (some OData services send one; uncertain for Graph, graph-facts §12.3). Never inside `$batch`,
    whose inner bodies are JSON strings rather than byte streams."""
    bom = BYTE_ORDER_MARK if sim.settings.count_byte_order_mark and not req.in_batch else ""
    return text_response(f"{bom}{count}")


def no_content() -> GraphResponse:
    return GraphResponse(204)


def error_response(req: GraphRequest, e: GraphError) -> GraphResponse:
    body = error_body(e.code, e.message, req.request_id, req.client_request_id, e.details, e.inner)
    r = json_response(body, e.status)
    r.headers.update(e.headers)
    return r


def new_request_ids(headers: dict[str, str]) -> tuple[str, str]:
    rid = str(uuid.uuid4())
    return rid, headers.get("client-request-id") or rid


def dispatch(sim: Simulator, req: GraphRequest) -> GraphResponse:
    """Run one Graph request through auth, faults, throttling, the handler and logging."""
    if not req.request_id:
        req.request_id, req.client_request_id = new_request_ids(req.headers)
    cost = 1
    extra: dict[str, str] = {}
    resp: GraphResponse | None = None
    if not req.in_batch and req.claims is None:
        from m365sim.token_checks import validate_graph_token

        try:
            req.claims = validate_graph_token(sim, req.header("authorization"))
        except GraphError as e:
            resp = error_response(req, e)
    sim = sim.serving(req.claims)  # the token's tenant: its state, settings, faults, buckets
    faults = getattr(sim, "faults", None)
    if resp is None and faults is not None and hasattr(faults, "before"):
        resp = faults.before(req)
    throttle = getattr(sim, "throttle", None)
    if resp is None and throttle is not None and sim.settings.throttling_enabled:
        charge = throttle.charge(req)
        if charge is not None:
            cost = charge.cost
            extra.update(charge.headers or {})
            if charge.response is not None:
                resp = charge.response
    elif throttle is not None:
        cost = _cost_only(req)
    if resp is None:
        resp = _route(sim, req)
    if faults is not None and hasattr(faults, "after"):
        resp = faults.after(req, resp) or resp
    resp.headers.setdefault("request-id", req.request_id)
    resp.headers.setdefault("client-request-id", req.client_request_id)
    resp.headers.setdefault("x-ms-resource-unit", str(cost))
    for k, v in extra.items():
        resp.headers.setdefault(k, v)
    if resp.body is not None:
        resp.headers.setdefault("Content-Type", "application/json;odata.metadata=minimal")
        if isinstance(resp.body, dict) and "error" in resp.body:
            ie = resp.body["error"].setdefault("innerError", {})
            ie.setdefault("request-id", req.request_id)
            ie.setdefault("client-request-id", req.client_request_id)
    sim.tenant.request_log.append(
        LoggedRequest(
            req.method,
            req.path,
            resp.status,
            cost,
            now(),
            req.app_id,
            req.in_batch,
            req.raw_query,
            req.request_id,
        )
    )
    return resp


def _cost_only(req: GraphRequest) -> int:
    """RU cost from the throttle module's cost table, without charging any bucket."""
    if req.path.lower().rstrip("/") == "/$batch":
        return 0
    try:
        from m365sim.resource_units import resource_unit_cost

        return int(resource_unit_cost(req.method, req.path, req.query)[0])
    except (ImportError, AttributeError, TypeError, ValueError):
        return 1


def _route(sim: Simulator, req: GraphRequest) -> GraphResponse:
    handler, params, path_found = sim.router.match(req.method, req.path)
    if handler is None:
        if path_found:
            e = GraphError(
                405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target."
            )
        else:
            e = GraphError(
                400,
                "BadRequest",
                f"Resource not found for the segment '{req.path.strip('/').split('/')[-1]}'.",
            )
        return error_response(req, e)
    req.params = params
    try:
        with sim.lock:
            return handler(sim, req)
    except GraphError as e:
        return error_response(req, e)
