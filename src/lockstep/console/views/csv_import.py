"""Import users from a CSV file: upload -> preview (a status per row) -> confirm -> result.

The uploaded rows wait in the admin's session (at most `user_csv.MAX_BYTES` of them) until
confirmed or replaced; nothing is written before the confirmation. On confirm every row the
preview marked "will create" or "will update" is written in one transaction; rows with errors
are left out; if anything changed since the preview, nothing is written and the new preview
shows why.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from lockstep.console.access import actor_for, write_page
from lockstep.console.forms import ConsoleForm
from lockstep.directory import user_csv
from lockstep.directory.csv_cells import Echo, safe_cell
from lockstep.directory.errors import Conflict, ValidationFailed
from lockstep.directory.form_errors import show_service_error
from lockstep.directory.services import user_import
from lockstep.directory.user_csv import CsvRow, ParsedCsv

SESSION_KEY = "user_import"
PREVIEW_ROWS = 1000  # rows without errors listed on the preview (all rows with errors are)
DELIMITER_WORDS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "vertical bars"}
TEMPLATE_ROWS = [
    ["username", "email", "first_name", "last_name", "job_title", "department", "usage_location", "state"],
    ["adele", "adele.vance@contoso.com", "Adele", "Vance", "Retail Manager", "Retail", "US", "staged"],
]


class UploadForm(ConsoleForm):
    file = forms.FileField(
        label="CSV file",
        required=False,
        help_text=(
            f"At most {user_csv.MAX_ROWS:,} users and 1 MiB; UTF-8 (with or without BOM), UTF-16 or "
            "Windows-1252; separated by commas, semicolons or tabs."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


def _store(request: HttpRequest, filename: str, parsed: ParsedCsv) -> None:
    request.session[SESSION_KEY] = {
        "filename": filename[:200],
        "encoding": parsed.encoding,
        "delimiter": parsed.delimiter,
        "columns": parsed.columns,
        "ignored": parsed.ignored,
        "rows": [[row.line, row.values, row.problem] for row in parsed.rows],
        "uploaded_at": timezone.now().isoformat(),
    }


def _draft(request: HttpRequest) -> tuple[dict[str, Any], list[CsvRow]] | None:
    draft = request.session.get(SESSION_KEY)
    if not isinstance(draft, dict):
        return None
    rows = [CsvRow(line=line, values=values, problem=problem) for line, values, problem in draft["rows"]]
    return draft, rows


@write_page
def upload(request: HttpRequest) -> HttpResponse:
    posted = request.method == "POST"
    form = UploadForm(request.POST if posted else None, request.FILES if posted else None)
    if posted and form.is_valid():
        uploaded = form.cleaned_data["file"]
        try:
            if uploaded is None:
                raise user_csv.refuse("Choose a CSV file.")
            if uploaded.size > user_csv.MAX_BYTES:
                raise user_csv.refuse(
                    f"The file is {uploaded.size:,} bytes; at most {user_csv.MAX_BYTES:,} bytes (1 MiB) "
                    "can be imported."
                )
            parsed = user_csv.parse(uploaded.read())
        except ValidationFailed as error:
            show_service_error(form, error)
        else:
            _store(request, uploaded.name, parsed)
            return redirect("console:users_import_preview")
    status = 422 if form.errors else 200
    return render(request, "console/users/csv_upload.html", {"form": form}, status=status)


@write_page
def preview(request: HttpRequest) -> HttpResponse:
    found = _draft(request)
    if found is None:
        messages.info(request, "Upload a CSV file first.")
        return redirect("console:users_import")
    draft, rows = found
    plan = user_import.plan_import(actor=actor_for(request), rows=rows)
    errors = [row for row in plan.rows if row.status == user_import.ERROR]
    others = [row for row in plan.rows if row.status != user_import.ERROR]
    context = {
        "draft": draft,
        "delimiter_words": DELIMITER_WORDS.get(draft["delimiter"], "commas"),
        "plan": plan,
        "columns": draft["columns"],
        "error_rows": errors,
        "other_rows": others[:PREVIEW_ROWS],
        "truncated": len(others) > PREVIEW_ROWS,
        "counts": {
            "create": plan.count(user_import.CREATE),
            "update": plan.count(user_import.UPDATE),
            "unchanged": plan.count(user_import.UNCHANGED),
            "error": len(errors),
        },
        "writes": len(plan.written_lines),
        "expected": ",".join(map(str, plan.written_lines)),
    }
    return render(request, "console/users/csv_preview.html", context)


@require_POST
def confirm(request: HttpRequest) -> HttpResponse:
    found = _draft(request)
    if found is None:
        messages.info(request, "Upload a CSV file first.")
        return redirect("console:users_import")
    _draft_info, rows = found
    expected = [int(v) for v in request.POST.get("expected", "").split(",") if v.isdigit()]
    try:
        result = user_import.apply_import(actor=actor_for(request), rows=rows, expected_lines=expected)
    except (ValidationFailed, Conflict) as error:
        message = error.message if isinstance(error, Conflict) else str(error.errors.get("file", [error])[0])
        messages.error(request, message)
        return redirect("console:users_import_preview")
    del request.session[SESSION_KEY]
    messages.success(
        request,
        f"Imported: {len(result.created):,} user{'s' if len(result.created) != 1 else ''} created, "
        f"{len(result.updated):,} updated"
        + (
            f", {result.errors:,} row{'s' if result.errors != 1 else ''} with errors left out."
            if result.errors
            else "."
        ),
    )
    return render(request, "console/users/csv_result.html", {"result": result})


def _csv_response(rows: Iterator[list[str]], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(Echo())
    response = StreamingHttpResponse(
        (writer.writerow([safe_cell(v) for v in row]) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@write_page
def errors_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The rows with errors, as uploaded plus an `error` column, to fix and upload again."""
    found = _draft(request)
    if found is None:
        return redirect("console:users_import")
    draft, rows = found
    plan = user_import.plan_import(actor=actor_for(request), rows=rows)
    columns: list[str] = draft["columns"]

    def lines() -> Iterator[list[str]]:
        yield [*columns, "error"]
        for row in plan.rows:
            if row.status == user_import.ERROR:
                yield [*(row.values.get(c, "") for c in columns), "; ".join(row.errors)]

    return _csv_response(lines(), "lockstep-import-errors.csv")


def template_csv(request: HttpRequest) -> StreamingHttpResponse:
    """An example file with the usual columns."""
    return _csv_response(iter(TEMPLATE_ROWS), "lockstep-users-template.csv")
