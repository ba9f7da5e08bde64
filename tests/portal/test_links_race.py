"""One link, many simultaneous uses (real threads, each with its own database connection):
exactly one passes. Run on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from lockstep.directory.actors import Actor
from lockstep.directory.services import users
from lockstep.portal.models import EmailedLink, LinkPurpose
from lockstep.portal.services import links

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 6


def test_only_one_of_several_simultaneous_uses_passes(actor: Actor) -> None:
    adele = users.create_user(
        actor=actor, fields={"username": "adele", "email": "adele@contoso.com"}, state="active"
    )
    token = links.issue(user=adele, purpose=LinkPurpose.PASSWORD_RESET)
    start = threading.Barrier(RACERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def race() -> None:
        try:
            start.wait()
            with transaction.atomic():
                links.consume(token, LinkPurpose.PASSWORD_RESET)
            outcome = "passed"
        except links.LinkRefused as refused:
            outcome = refused.reason
        except Exception as error:  # a database busy error counts as refused, never as passed
            outcome = type(error).__name__
        finally:
            connection.close()  # this thread's own connection
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=race) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == RACERS
    assert outcomes.count("passed") == 1, outcomes
    assert EmailedLink.objects.get().used_at is not None
