"""JSON batching: POST /$batch (graph-facts §3)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from m365sim.errors import GraphError, error_body
from m365sim.graph.core import GraphRequest, GraphResponse, dispatch, json_response

if TYPE_CHECKING:
    from m365sim.simulator import Simulator

MAX_REQUESTS = 20

_SHUFFLE = random.Random(20240820)


def _invalid(detail: str) -> GraphError:
    return GraphError(400, "BadRequest", f"Invalid batch payload format. {detail}".strip())


def _validate(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise _invalid("")
    reqs = body["requests"]
    if not reqs:
        raise _invalid("The batch must contain at least one request.")
    if len(reqs) > MAX_REQUESTS:
        raise _invalid(f"Number of batch requests exceeds the limit of {MAX_REQUESTS}.")
    seen: set[str] = set()
    for r in reqs:
        if not isinstance(r, dict):
            raise _invalid("")
        rid, method, url = r.get("id"), r.get("method"), r.get("url")
        if not isinstance(rid, str) or not rid:
            raise _invalid("Every request needs a string 'id'.")
        if rid.lower() in seen:
            raise _invalid(f"Request id '{rid}' is duplicated.")
        seen.add(rid.lower())
        if not isinstance(method, str) or method.upper() not in ("GET", "POST", "PATCH", "PUT", "DELETE"):
            raise _invalid(f"Request '{rid}' has an invalid method.")
        if (
            not isinstance(url, str)
            or "://" in url
            or not url.strip()
            or url.strip("/").lower().startswith("$batch")
        ):
            raise _invalid(f"Request '{rid}' must have a relative url.")
        headers = r.get("headers")
        if headers is not None and not isinstance(headers, dict):
            raise _invalid(f"Request '{rid}' has invalid headers.")
        if r.get("body") is not None and not any(k.lower() == "content-type" for k in headers or {}):
            raise _invalid(f"Content-Type header must be specified for request '{rid}' with a body.")
        deps = r.get("dependsOn", [])
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            raise _invalid(f"Request '{rid}' has an invalid dependsOn.")
    for r in reqs:
        for d in r.get("dependsOn", []):
            if d.lower() not in seen:
                raise _invalid(f"Request '{r['id']}' depends on unknown request '{d}'.")
    return reqs


def _order(reqs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Topological order (request order among ready requests); 400 on a cycle."""
    by_id = {r["id"].lower(): r for r in reqs}
    done: set[str] = set()
    out: list[dict[str, Any]] = []
    while len(out) < len(reqs):
        progressed = False
        for r in reqs:
            k = r["id"].lower()
            if k not in done and all(d.lower() in done for d in r.get("dependsOn", [])):
                done.add(k)
                out.append(by_id[k])
                progressed = True
        if not progressed:
            raise _invalid("The dependsOn graph contains a cycle.")
    return out


def _check_shape(sim: Simulator, reqs: list[dict[str, Any]]) -> None:
    """Fully parallel (no dependsOn) or one sequential chain; nothing in between (graph-facts §12.3)."""
    deps = {r["id"].lower(): [d.lower() for d in r.get("dependsOn", [])] for r in reqs}
    if not any(deps.values()):
        return
    roots = [rid for rid, d in deps.items() if not d]
    used = [d[0] for d in deps.values() if d]
    chain = (
        len(roots) == 1
        and all(len(d) <= 1 for d in deps.values())
        and len(used) == len(set(used)) == len(reqs) - 1
    )
    if not chain:
        raise GraphError(400, "BadRequest", sim.settings.batch_mixed_dependencies_message)


def batch(sim: Simulator, req: GraphRequest) -> GraphResponse:
    reqs = _validate(req.body)
    _check_shape(sim, reqs)
    reqs = _order(reqs)
    statuses: dict[str, int] = {}
    responses: list[dict[str, Any]] = []
    for r in reqs:
        rid = r["id"]
        url = r["url"].strip()
        url = url[len("/v1.0") :] if url.lower().startswith("/v1.0/") else url
        path, _, raw_q = url.partition("?")
        headers = {k.lower(): str(v) for k, v in (r.get("headers") or {}).items()}
        inner = GraphRequest(
            method=r["method"].upper(),
            path=unquote("/" + path.lstrip("/")),
            query=dict(parse_qsl(raw_q, keep_blank_values=True)),
            headers=headers,
            body=r.get("body"),
            claims=req.claims,
            in_batch=True,
            base_url=req.base_url,
            raw_query=raw_q,
        )
        inner.request_id = req.request_id
        inner.client_request_id = headers.get("client-request-id", req.client_request_id)
        failed = [d for d in r.get("dependsOn", []) if statuses.get(d.lower(), 200) >= 400]
        if failed:
            status = 424
            body = error_body(
                "FailedDependency",
                "The request was not executed because a request it depends on failed.",
                req.request_id,
                inner.client_request_id,
            )
            responses.append(
                {"id": rid, "status": status, "headers": {"Content-Type": "application/json"}, "body": body}
            )
        else:
            resp = dispatch(sim, inner)
            status = resp.status
            item: dict[str, Any] = {"id": rid, "status": status, "headers": dict(resp.headers)}
            if resp.body is not None:
                item["body"] = resp.body if isinstance(resp.body, dict | list) else str(resp.body)
            responses.append(item)
        statuses[rid.lower()] = status
    if sim.settings.shuffle_batch_responses:
        # the order may differ from the request (§3); a seeded generator keeps failures reproducible
        _SHUFFLE.shuffle(responses)
    return json_response({"responses": responses})
