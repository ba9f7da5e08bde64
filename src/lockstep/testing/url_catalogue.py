"""The catalogue that isolation and role tests keep of a URL namespace: how to call each pattern."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

POST_FORM_ACTIONS = (
    re.compile(r'<form\b[^>]*method="post"[^>]*action="([^"]*)"'),
    re.compile(r'<form\b[^>]*action="([^"]*)"[^>]*method="post"'),
)


@dataclass(frozen=True)
class Route:
    """How to call one URL pattern: its URL arguments (from a World's ids) and a valid POST body."""

    args: Callable[[dict[str, int]], list[int]] | None = None
    post: Callable[[dict[str, int]], dict[str, Any]] = field(default=lambda ids: {})
    post_only: bool = False
    sign_in: bool = False  # part of signing in / out: not an object, not a write
    write_page: bool = False  # an entry form: read-only admins get 403 even on GET
    creates: bool = False  # a POST here creates or changes something of the caller's organization


def post_form_actions(html: str) -> list[str]:
    """The action of every form in `html` that posts."""
    return [action for pattern in POST_FORM_ACTIONS for action in pattern.findall(html)]
