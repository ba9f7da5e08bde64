"""Read a CSV file of users: limits, encodings, delimiters and column names (no database).

What an IT admin's spreadsheet saves: UTF-8 with or without a byte-order mark, UTF-16 (Excel's
"Unicode text"), or Windows-1252; commas, semicolons (Excel in many European locales), tabs or
pipes. Column names are the user fields (`job_title`) or their labels ("Job title"), in any
case. The read-only columns of Lockstep's own export are ignored, so an export can be edited
and imported again; a cell the export protected against formula injection ('=...) reads back
as typed.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field

from lockstep.directory.csv_cells import FORMULA_STARTS
from lockstep.directory.errors import ValidationFailed
from lockstep.directory.validation import USER_TEXT_FIELDS

MAX_BYTES = 1024 * 1024  # 1 MiB
MAX_ROWS = 5000
DELIMITERS = (",", ";", "\t", "|")
IMPORT_FIELDS = (*USER_TEXT_FIELDS, "state")
# The export's columns that an import does not set.
IGNORED_COLUMNS = frozenset({"immutable_id", "password_setup", "has_password", "created_at", "updated_at"})
ALIASES: dict[str, str] = {
    "user name": "username",
    "login": "username",
    "company email": "email",
    "primary email": "email",
    "e mail": "email",
    "given name": "first_name",
    "surname": "last_name",
    "family name": "last_name",
    "title": "job_title",
    "mobile": "mobile_phone",
    "phone": "business_phone",
    "country": "usage_location",
}


@dataclass(frozen=True)
class CsvRow:
    """One data row: its line in the file and its values by user field."""

    line: int
    values: dict[str, str]
    problem: str = ""  # a problem with the row's shape (too many cells)


@dataclass(frozen=True)
class ParsedCsv:
    columns: list[str]  # the user field of each column used
    rows: list[CsvRow]
    encoding: str
    delimiter: str
    ignored: list[str] = field(default_factory=list)


def refuse(message: str) -> ValidationFailed:
    return ValidationFailed({"file": [message]})


def decode(data: bytes) -> tuple[str, str]:
    """The text of the file and the name of its encoding."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise refuse("The file says it is UTF-16 but is not.") from None
    if b"\x00" in data:
        raise refuse("This is not a text file: save the spreadsheet as CSV.")
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "Windows-1252"


def sniff_delimiter(header_line: str) -> str:
    """The delimiter the header line uses most (a comma when it uses none)."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def column_field(name: str) -> str:
    """The user field a column name means ("" when unknown)."""
    key = " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())
    if key in ALIASES:
        return ALIASES[key]
    candidate = key.replace(" ", "_")
    if candidate in IMPORT_FIELDS or candidate in IGNORED_COLUMNS:
        return candidate
    return ""


def unprotect(value: str) -> str:
    """A cell Lockstep's export protected ('=x) reads back as typed (=x); validation decides then."""
    if value.startswith("'") and value[1:2] and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


def _columns(header: list[str]) -> tuple[list[str], list[str]]:
    columns: list[str] = []
    unknown: list[str] = []
    ignored: list[str] = []
    for name in header:
        meaning = column_field(name)
        if not meaning:
            if name.strip():
                unknown.append(name.strip())
            columns.append("")
        elif meaning in IGNORED_COLUMNS:
            ignored.append(name.strip())
            columns.append("")
        else:
            if meaning in columns:
                raise refuse(f"The column {meaning} appears twice.")
            columns.append(meaning)
    if unknown:
        raise refuse(
            f"Unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(unknown[:10])}. "
            f"Columns can be: {', '.join(IMPORT_FIELDS)}."
        )
    missing = [name for name in ("username", "email") if name not in columns]
    if missing:
        raise refuse(f"The file needs the column{'s' if len(missing) > 1 else ''} {' and '.join(missing)}.")
    return columns, ignored


def parse(data: bytes) -> ParsedCsv:
    """Read the file, or raise ValidationFailed on `file` saying why it cannot be read."""
    if len(data) > MAX_BYTES:
        raise refuse(f"The file is {len(data):,} bytes; at most {MAX_BYTES:,} bytes (1 MiB) can be imported.")
    if not data.strip():
        raise refuse("The file is empty.")
    text, encoding = decode(data)
    delimiter = sniff_delimiter(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        columns, ignored = _columns(header)
        rows: list[CsvRow] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) == MAX_ROWS:
                raise refuse(
                    f"The file has more than {MAX_ROWS:,} users; import at most {MAX_ROWS:,} at a time."
                )
            problem = ""
            if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns) :]):
                problem = f"row: has {len(cells)} cells but the header has {len(columns)} columns."
            values = {
                name: unprotect(cells[index]) if index < len(cells) else ""
                for index, name in enumerate(columns)
                if name
            }
            rows.append(CsvRow(line=reader.line_num, values=values, problem=problem))
    except csv.Error as error:
        if "field limit" in str(error):
            raise refuse(
                f"Line {reader.line_num}: a cell is far longer than any user field allows."
            ) from None
        raise refuse(f"Line {reader.line_num}: the file is not valid CSV ({error}).") from None
    if not rows:
        raise refuse("The file has a header but no users.")
    return ParsedCsv(
        columns=[c for c in columns if c], rows=rows, encoding=encoding, delimiter=delimiter, ignored=ignored
    )
