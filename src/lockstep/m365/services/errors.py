"""Microsoft 365 failures as service errors: callers (the REST API, the Admin Portal, the CLI)
see plain words and a status, never the Graph client's exception types."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from lockstep.directory.errors import Conflict
from lockstep.m365.graph.errors import GraphError


class MicrosoftRefused(Conflict):
    """Microsoft 365 refused the request or could not be reached (a 409 for the caller).

    `message` says what happened and what to do, in plain words; `kind` is the failure's
    family (transient, permanent, fatal or uncertain) and `remote_status` Microsoft's HTTP
    status (0: no answer).
    """

    def __init__(self, field: str, message: str, *, kind: str = "permanent", remote_status: int = 0) -> None:
        super().__init__(field, message)
        self.kind = kind
        self.remote_status = remote_status


def refusal(field: str, error: GraphError, words: str | None = None) -> MicrosoftRefused:
    """`error` as a service error on `field`, in `words` or the error's own plain words."""
    message = words or error.plain_words or error.message or str(error)
    return MicrosoftRefused(field, message, kind=error.kind, remote_status=error.status)


@contextmanager
def microsoft_refusals(field: str = "directory_id") -> Iterator[None]:
    """Turn any Graph failure raised inside the block into `MicrosoftRefused` on `field`."""
    try:
        yield
    except GraphError as error:
        raise refusal(field, error) from error
