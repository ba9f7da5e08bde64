"""Directory events -> User Portal emails (the flows of SPEC 3), inside the change's transaction."""

from __future__ import annotations


def connect() -> None:
    """Connect the portal's receivers (the emails sent when a user is bound, activated...)."""
