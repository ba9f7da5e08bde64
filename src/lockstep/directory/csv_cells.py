"""CSV cells Lockstep sends out (user, audit and binding exports), safe to open in a spreadsheet.

The one formula guard: `safe_cell` protects a cell, `lockstep.directory.user_csv.unprotect` reads
a protected cell back as typed.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def safe_cell(value: object) -> str:
    """Text for a CSV cell; a leading = + - @ (or tab, CR) gets a ' so spreadsheets never run it."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in FORMULA_STARTS else text
