"""Every entity m365sim serves validates against Microsoft's own model of Graph v1.0.

Oracle: JSON Schemas generated from npm ``@microsoft/microsoft-graph-types`` (see
``schemas/regenerate.sh``); they forbid unknown properties, so typos and wrong types fail.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from m365sim.graph.groups import ALL_PROPS as GROUP_PROPS
from m365sim.graph.user_schema import ALL_PROPS as USER_PROPS
from m365sim.graph.user_schema import SINGLE_ONLY
from m365sim.seeds import DEMO_CLIENT_ID

# returned by real v1.0 responses (the docs' own examples show them) but absent from the model
EXTRAS = {"Group": {"creationOptions", "resourceBehaviorOptions", "resourceProvisioningOptions"}}
SCHEMAS = Path(__file__).with_name("schemas") / "graph-v1.json.gz"


@cache
def schema() -> dict[str, Any]:
    return dict(json.loads(gzip.open(SCHEMAS).read()))


@cache
def validator(kind: str) -> jsonschema.Draft7Validator:
    s = schema()
    return jsonschema.Draft7Validator({"$ref": s["roots"][kind], "definitions": s["definitions"]})


def check(kind: str, entity: dict[str, Any]) -> None:
    extras = EXTRAS.get(kind, set())
    body = {k: v for k, v in entity.items() if "@" not in k and k not in extras}
    validator(kind).validate(body)


def test_user_full_select(graph: httpx.Client) -> None:
    props = sorted(USER_PROPS - SINGLE_ONLY - {"hireDate", "preferredName", "mailboxSettings"})
    users = graph.get("/users", params={"$select": ",".join(props), "$top": "999"}).json()["value"]
    assert len(users) == 49
    for u in users:
        check("User", u)
    check("User", graph.get("/users/adele.vance@contoso.com").json())


def test_unknown_to_microsoft_would_fail() -> None:
    with pytest.raises(jsonschema.ValidationError):
        check("User", {"mailNickName": "typo"})
    with pytest.raises(jsonschema.ValidationError):
        check("User", {"accountEnabled": "yes"})


def test_groups(graph: httpx.Client) -> None:
    for g in graph.get("/groups", params={"$select": ",".join(sorted(GROUP_PROPS))}).json()["value"]:
        check("Group", g)
    for g in graph.get("/groups").json()["value"]:
        check("Group", g)


def test_directory_entities(graph: httpx.Client) -> None:
    for d in graph.get("/domains").json()["value"]:
        check("Domain", d)
    check("Organization", graph.get("/organization").json()["value"][0])
    sp = graph.get(f"/servicePrincipals(appId='{DEMO_CLIENT_ID}')").json()
    check("ServicePrincipal", sp)
    for s in graph.get("/subscribedSkus").json()["value"]:
        check("SubscribedSku", s)
    for ra in graph.get("/roleManagement/directory/roleAssignments").json()["value"]:
        check("UnifiedRoleAssignment", ra)
    for obj in graph.get(f"/servicePrincipals/{sp['id']}/memberOf").json()["value"]:
        check("DirectoryRole", obj)
