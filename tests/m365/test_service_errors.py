"""Graph failures leave the m365 services as `MicrosoftRefused` (a Conflict): plain words, the
failure's family and Microsoft's status; never a Graph client type."""

from __future__ import annotations

import pytest

from lockstep.directory.errors import Conflict
from lockstep.m365.graph.errors import AccessDenied, Throttled
from lockstep.m365.services.errors import MicrosoftRefused, microsoft_refusals


def test_a_graph_failure_becomes_a_conflict_on_the_field_in_plain_words() -> None:
    with pytest.raises(MicrosoftRefused) as caught, microsoft_refusals("user_id"):
        raise AccessDenied("Forbidden", status=403, code="Authorization_RequestDenied")
    refused = caught.value
    assert isinstance(refused, Conflict)
    assert refused.field == "user_id"
    assert refused.message == AccessDenied.default_plain_words
    assert (refused.kind, refused.remote_status) == ("fatal", 403)
    assert isinstance(refused.__cause__, AccessDenied)


def test_a_transient_failure_keeps_its_family() -> None:
    with pytest.raises(MicrosoftRefused) as caught, microsoft_refusals():
        raise Throttled("Too many requests", status=429, retry_after=2.0)
    assert caught.value.field == "directory_id"
    assert (caught.value.kind, caught.value.remote_status) == ("transient", 429)


def test_other_errors_pass_through_untouched() -> None:
    with pytest.raises(ValueError), microsoft_refusals():
        raise ValueError("not a Graph failure")
