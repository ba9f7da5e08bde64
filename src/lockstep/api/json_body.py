"""The API's request parser: JSON bodies and query strings refused early, with the field named,
when they hold what no field may hold.

- A key twice in one JSON object (which one would win is a parser's choice): refused.
- NUL characters (PostgreSQL cannot store them; SQLite would, so the two would differ) and lone
  UTF-16 surrogates (not text; they cannot be encoded to UTF-8): refused anywhere in a body or a
  query parameter, before any service sees the input.
- Integers beyond 64 bits (no database column holds them; SQLite raises OverflowError): refused
  anywhere in a body or a query parameter.
"""

from __future__ import annotations

import json
import re
from typing import Any, cast

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja.parser import Parser

from lockstep.directory.errors import ValidationFailed

NUL_RULE = "Must not contain the NUL character (\\u0000)."
SURROGATE_RULE = "Must be valid Unicode text (a lone surrogate such as \\ud800 is not)."
DUPLICATE_RULE = "Appears more than once in the same JSON object."
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
INT_RULE = f"Must be a 64-bit integer (between {INT_MIN} and {INT_MAX})."
INTEGER = re.compile(r"[+-]?\d+")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValidationFailed({key: [DUPLICATE_RULE]})
        seen[key] = value
    return seen


def text_problem(value: str) -> str:
    """The rule `value` breaks, or ""."""
    if "\x00" in value:
        return NUL_RULE
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_RULE
    return ""


def _field(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path) or "body"


def check_text(value: Any, path: tuple[str | int, ...] = ()) -> None:
    """Raise ValidationFailed naming the first field (dotted path) whose text is unusable."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise ValidationFailed({_field(path): [problem]})
    elif isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        raise ValidationFailed({_field(path): [INT_RULE]})
    elif isinstance(value, dict):
        for key, item in value.items():
            key_problem = text_problem(key)
            if key_problem:
                raise ValidationFailed({_field(path) if path else "body": [key_problem]})
            check_text(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_text(item, (*path, index))


def _integer_problem(value: str) -> str:
    """A query value written as an integer too big for any id or count (ninja would pass it on)."""
    if INTEGER.fullmatch(value.strip()) and not INT_MIN <= int(value) <= INT_MAX:
        return INT_RULE
    return ""


class StrictParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = json.loads(request.body, object_pairs_hook=_no_duplicates)
        check_text(data)
        return cast(dict[str, Any], data)

    def parse_querydict(
        self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        for key, values in data.lists():
            for value in values:
                if isinstance(value, str):
                    problem = text_problem(key) or text_problem(value) or _integer_problem(value)
                    if problem:
                        raise ValidationFailed({key if not text_problem(key) else "query": [problem]})
        return super().parse_querydict(data, list_fields, request)
