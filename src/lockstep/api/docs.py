"""Interactive docs served entirely from this server: Swagger UI from django-ninja's package files.

There is no internet access in many deployments and the Content-Security-Policy allows scripts from
'self' only, so nothing comes from a CDN and the page has no inline script (the settings travel in a
JSON data block that ninja's own swagger-ui-init.js reads).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ninja
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from ninja.openapi.docs import DocsBase

if TYPE_CHECKING:
    from ninja import NinjaAPI

NINJA_STATIC = Path(ninja.__file__).parent / "static" / "ninja"
ASSETS: dict[str, str] = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui-init.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
    "favicon.png": "image/png",
}


JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


class OfflineSwagger(DocsBase):
    settings: dict[str, Any] = {"layout": "BaseLayout", "deepLinking": True}

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        swagger_settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        context = {
            # As Django's json_script: "</script>" in a string cannot end the data block early.
            "swagger_settings": json.dumps(swagger_settings).translate(JSON_SCRIPT_ESCAPES),
            "api": api,
        }
        return render(request, "lockstep_api/docs.html", context)


def docs_asset(request: HttpRequest, name: str) -> FileResponse:
    """One of the Swagger UI files django-ninja ships (whitelisted by name)."""
    content_type = ASSETS.get(name)
    if content_type is None:
        raise Http404(name)
    response = FileResponse((NINJA_STATIC / name).open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    return response
