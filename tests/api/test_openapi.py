"""The OpenAPI document and the interactive docs page (offline assets, no inline script)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

EXPECTED_PATHS = {
    "/api/v1/sign-in-locks": {"get"},
    "/api/v1/sign-in-locks/{lock_id}": {"delete"},
    "/api/v1/users": {"get", "post"},
    "/api/v1/users/{user_id}": {"get", "patch", "delete"},
    "/api/v1/users/{user_id}/state": {"post"},
    "/api/v1/users/{user_id}/password": {"post"},
    "/api/v1/users/{user_id}/activation-email": {"post"},
    "/api/v1/users/activation-emails": {"post"},
    "/api/v1/groups": {"get", "post"},
    "/api/v1/groups/{group_id}": {"get", "patch", "delete"},
    "/api/v1/groups/{group_id}/members": {"get", "post"},
    "/api/v1/groups/{group_id}/members/remove": {"post"},
    "/api/v1/groups/{group_id}/members/{user_id}": {"delete"},
    "/api/v1/audit-events": {"get"},
    "/api/v1/audit-events/{event_id}": {"get"},
    "/api/v1/emails": {"get"},
    "/api/v1/emails/{email_id}": {"get"},
    "/api/v1/emails/{email_id}/resend": {"post"},
    "/api/v1/organization": {"get", "patch"},
    "/api/v1/api-keys": {"get", "post"},
    "/api/v1/api-keys/{key_id}": {"get"},
    "/api/v1/api-keys/{key_id}/revoke": {"post"},
    # Microsoft 365 (api/directories.py, api/m365_imports.py)
    "/api/v1/directories": {"get", "post"},
    "/api/v1/directories/{directory_id}": {"get"},
    "/api/v1/directories/{directory_id}/verify": {"post"},
    "/api/v1/directories/{directory_id}/health": {"get"},
    "/api/v1/directories/{directory_id}/consent-link": {"get"},
    "/api/v1/directories/{directory_id}/settings": {"patch"},
    "/api/v1/directories/{directory_id}/plan": {"get"},
    "/api/v1/directories/{directory_id}/settings/managed-attributes/preview": {"get"},
    "/api/v1/directories/{directory_id}/export": {"get"},
    "/api/v1/directories/{directory_id}/bindings": {"get"},
    "/api/v1/directories/{directory_id}/deactivate": {"post"},
    "/api/v1/directories/{directory_id}/held-writes": {"get"},
    "/api/v1/directories/{directory_id}/held-writes/approve": {"post"},
    "/api/v1/directories/{directory_id}/held-writes/reject": {"post"},
    "/api/v1/users/{user_id}/bindings": {"get", "post"},
    "/api/v1/users/{user_id}/bindings/{directory_id}": {"get", "delete"},
    "/api/v1/users/{user_id}/bindings/{directory_id}/delete-account": {"post"},
    "/api/v1/users/{user_id}/bindings/{directory_id}/restore": {"post"},
    "/api/v1/groups/{group_id}/bindings": {"get", "post"},
    "/api/v1/groups/{group_id}/bindings/{directory_id}": {"delete"},
    "/api/v1/directories/{directory_id}/scans": {"post"},
    "/api/v1/directories/{directory_id}/scans/latest": {"get"},
    "/api/v1/directories/{directory_id}/candidates": {"get"},
    "/api/v1/import-candidates/{candidate_id}/plan": {"get"},
    "/api/v1/directories/{directory_id}/imports/preview": {"post"},
    "/api/v1/directories/{directory_id}/imports": {"get", "post"},
    "/api/v1/imports/{batch_id}": {"get"},
    "/api/v1/imports/{batch_id}/items": {"get"},
    "/api/v1/imports/{batch_id}/undo": {"get", "post"},
    "/api/v1/usage-report": {"get"},
    "/api/v1/directories/{directory_id}/remote-groups": {"get"},
    "/api/v1/directories/{directory_id}/remote-groups/import": {"post"},
    # Single sign-on (api/sso.py)
    "/api/v1/directories/{directory_id}/sso": {"get"},
    "/api/v1/directories/{directory_id}/sso/{domain}/readiness": {"get"},
    "/api/v1/directories/{directory_id}/sso/{domain}/immutable-ids": {"post"},
    "/api/v1/directories/{directory_id}/sso/{domain}/test-sign-in": {"post"},
    "/api/v1/directories/{directory_id}/sso/{domain}/federate": {"post"},
    "/api/v1/directories/{directory_id}/sso/{domain}/roll-back": {"post"},
    "/api/v1/directories/{directory_id}/sso/{domain}/signed-requests": {"post"},
    "/api/v1/sso/keys": {"get"},
    "/api/v1/sso/keys/next": {"post"},
    "/api/v1/sso/keys/promote": {"post"},
}


@pytest.fixture
def schema() -> dict[str, Any]:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_document_lists_the_routes(schema: dict[str, Any]) -> None:
    assert {path: set(ops) for path, ops in schema["paths"].items()} == EXPECTED_PATHS
    assert schema["info"]["title"] == "Lockstep API"


def test_every_operation_documents_auth_and_the_error_shape(schema: dict[str, Any]) -> None:
    assert set(schema["components"]["securitySchemes"]) == {"ApiKeyAuth", "AdminSessionAuth"}
    error = schema["components"]["schemas"]["ErrorOut"]
    assert error["properties"]["error"]["$ref"].endswith("/ErrorDetail")
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"ApiKeyAuth": []}, {"AdminSessionAuth": []}], (method, path)
            responses = operation["responses"]
            assert "401" in responses, (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorOut"), (method, path, status)
            if method != "get":
                assert "403" in responses, (method, path)


def test_graph_limits_are_documented(schema: dict[str, Any]) -> None:
    create = schema["components"]["schemas"]["UserCreate"]
    limits = {name: prop.get("maxLength") for name, prop in create["properties"].items()}
    assert limits["display_name"] == 256
    assert limits["first_name"] == limits["last_name"] == 64
    assert limits["job_title"] == 128
    assert limits["department"] == 64
    assert limits["employee_id"] == 16
    assert create["additionalProperties"] is False
    out = schema["components"]["schemas"]["UserOut"]["properties"]
    assert "password_hash" not in out and "initial_password" not in out
    assert {"immutable_id", "has_password", "password_setup", "group_ids", "created_at"} <= out.keys()


def test_docs_page_uses_only_local_assets_and_no_inline_script() -> None:
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "http://" not in html and "https://" not in html  # no CDN
    sources = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/api/v1/docs/assets/") for s in sources), sources
    for script in re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S):
        attributes, body = script
        assert 'type="application/json"' in attributes or (body.strip() == "" and "src=" in attributes)
    assert "Content-Security-Policy" in response.headers
    policy = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    for source in sources:
        asset = Client().get(source)
        assert asset.status_code == 200, source
        assert b"".join(asset.streaming_content)


def test_unknown_asset_and_unknown_api_paths_are_json_404() -> None:
    for path in ("/api/v1/docs/assets/../../settings.py", "/api/v1/docs/assets/x.js", "/api/v1/nope"):
        response = Client().get(path)
        assert response.status_code == 404, path
    body = Client().get("/api/v1/nope").json()
    assert body["error"]["code"] == "not_found"


def test_unsupported_method_is_405_in_the_error_shape(api: Client) -> None:
    response = api.put("/api/v1/users", data="{}", content_type="application/json")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}
