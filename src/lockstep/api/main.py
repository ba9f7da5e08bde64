"""The versioned REST API; each resource's router lives in its own module."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path, re_path
from ninja import NinjaAPI

from lockstep.api import (
    activation_emails,
    api_keys,
    audit,
    bindings,
    directories,
    emails,
    errors,
    groups,
    m365_imports,
    organization,
    sign_in_locks,
    sso,
    users,
)
from lockstep.api.auth import AUTH
from lockstep.api.docs import OfflineSwagger, docs_asset
from lockstep.api.json_body import StrictParser

DESCRIPTION = """
Everything the Admin Portal does, for scripts and integrations. Scoped to one organization.

**Authentication**: `Authorization: Bearer <API key>` (created in the Admin Portal,
Settings, API keys), or a signed-in Admin Portal session (writes then need the `X-CSRFToken` header;
these docs send it). Read-only keys and administrators get 403 on writes.

**Errors** share one body: `{"error": {"code", "message", "fields": {"<field>": ["<rule>", ...]},
"allowed"}}`: 401 not authenticated, 403 not allowed, 404 no such object in your organization,
409 conflict (a duplicate, naming the field; a refused state transition, listing `allowed` states),
422 invalid input (every field with every rule it broke).

**Lists** use cursor pagination: `?limit=` (1-500, default 50), then `?cursor=<next_cursor>` until
`next_cursor` is null.
"""


def json_method_not_allowed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Ninja answers an unsupported method with an empty 405; give it the error shape too."""

    @wraps(view)  # keeps ninja's csrf_exempt flag: its auth classes do the CSRF check
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if response.status_code != 405:
            return response
        allowed = response.get("Allow", "")
        answer = errors.json_error(405, "method_not_allowed", f"Allowed methods: {allowed}.")
        answer["Allow"] = allowed
        return answer

    return wrapped


class LockstepAPI(NinjaAPI):
    def _get_urls(self) -> list[URLPattern | URLResolver]:
        routes = [
            URLPattern(p.pattern, json_method_not_allowed(p.callback), p.default_args, p.name)
            if isinstance(p, URLPattern)
            else p
            for p in super()._get_urls()
        ]
        return [
            path("docs/assets/<str:name>", docs_asset, name="docs-asset"),
            *routes,
            # [\s\S]: any character, a newline too (`.` would leave /x%0A/ to Django's HTML 404).
            re_path(r"^(?P<rest>[\s\S]+)\Z", errors.not_found_view, name="not-found"),
        ]


api = LockstepAPI(
    title="Lockstep API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=AUTH,
    docs=OfflineSwagger(),
    parser=StrictParser(),
)
errors.install(api)
api.add_router("", users.router)
api.add_router("", activation_emails.router)
api.add_router("", groups.router)
api.add_router("", audit.router)
api.add_router("", organization.router)
api.add_router("", api_keys.router)
api.add_router("", directories.router)
api.add_router("", bindings.router)
api.add_router("", m365_imports.router)
api.add_router("", emails.router)
api.add_router("", sign_in_locks.router)
api.add_router("", sso.router)
