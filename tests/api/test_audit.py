"""/audit-events: newest first, filters, no secrets."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lockstep.directory.models import User

from .conftest import GOOD_PASSWORD, JsonClient

pytestmark = pytest.mark.django_db


def test_newest_first_with_filters(client_a: JsonClient, make_user: Callable[..., User]) -> None:
    adele = make_user("adele")
    megan = make_user("megan")
    client_a.post(f"users/{adele.pk}/state", {"state": "active"})
    client_a.post(f"users/{adele.pk}/password", {"password": GOOD_PASSWORD})

    everything = client_a.get("audit-events")
    assert everything.status_code == 200
    ids = [e["id"] for e in everything.data["items"]]
    assert ids == sorted(ids, reverse=True)
    assert everything.data["items"][0]["action"] == "user.set_password"
    assert GOOD_PASSWORD not in everything.content.decode()

    by_target = client_a.get(f"audit-events?target_type=user&target_id={adele.pk}")
    assert [e["action"] for e in by_target.data["items"]] == [
        "user.set_password",
        "user.activate",
        "user.create",
    ]
    activate = by_target.data["items"][1]
    assert activate["before"] == {"state": "staged"} and activate["after"] == {"state": "active"}
    assert activate["actor_kind"] == "api_key"

    creates = client_a.get("audit-events?action=user.create")
    assert {e["target_id"] for e in creates.data["items"]} == {str(adele.pk), str(megan.pk)}

    one = client_a.get(f"audit-events/{activate['id']}")
    assert one.status_code == 200 and one.data == activate
    assert client_a.get("audit-events/999999").status_code == 404


def test_bad_cursor_is_422(client_a: JsonClient) -> None:
    from lockstep.directory.services.users import encode_cursor

    for cursor in ("zzz", encode_cursor(["yesterday", 1]), encode_cursor(["2026-01-01T00:00:00", 1])):
        response = client_a.get(f"audit-events?cursor={cursor}")
        assert response.status_code == 422
        assert list(response.data["error"]["fields"]) == ["cursor"]
