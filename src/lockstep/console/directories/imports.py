"""The import wizard: scan, candidates, preview, start, batch progress and undo, remote groups."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone

from lockstep.console.access import actor_for
from lockstep.console.directories.access import portal_view
from lockstep.console.directories.common import (
    CANDIDATES_PAGE,
    PREVIEW_WRITES,
    graph_words,
    tab_context,
)
from lockstep.console.directories.forms import (
    CandidateSearchForm,
    ImportOptionsForm,
    UndoImportForm,
    flag,
)
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, ValidationFailed
from lockstep.directory.form_errors import show_service_error
from lockstep.m365.graph.errors import GraphError
from lockstep.m365.models import Directory
from lockstep.m365.services import imports
from lockstep.m365.services.bindings import get_directory


def polled_by(request: HttpRequest, element_id: str) -> bool:
    """The request is the HTMX poll of the element `element_id`."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and getattr(htmx, "target", None) == element_id


def settled_page(response: HttpResponseBase, selector: str) -> HttpResponseBase:
    """Swap the page's `selector` element with the one of the full page `response` (HTMX 2's
    response headers), so what a finished job changed shows without a reload and the polling,
    absent from a settled page, stops."""
    response["HX-Retarget"] = selector
    response["HX-Reselect"] = selector
    response["HX-Reswap"] = "outerHTML"
    return response


# --- import wizard ------------------------------------------------------------------------------------


def _scan_context(actor: Actor, directory: Directory) -> dict[str, Any]:
    return {"directory": directory, "scan": imports.latest_scan(actor=actor, directory_id=directory.pk)}


def _candidate_query(search: CandidateSearchForm) -> dict[str, Any]:
    data = search.cleaned_data if search.is_valid() else {}
    return {
        "search": data.get("q") or None,
        "status": data.get("status") or None,
        "admin": flag(data.get("admin")),
    }


@portal_view()
def import_page(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    search = CandidateSearchForm(request.GET or None)
    query = _candidate_query(search)
    page = None
    problem = ""
    try:
        page = imports.list_candidates(
            actor=actor,
            directory_id=directory.pk,
            cursor=request.GET.get("cursor") or None,
            limit=CANDIDATES_PAGE,
            **query,
        )
    except ValidationFailed as error:
        problem = " ".join(m for msgs in error.errors.values() for m in msgs)
        page = imports.list_candidates(actor=actor, directory_id=directory.pk, limit=CANDIDATES_PAGE)
    options = ImportOptionsForm(
        initial={
            "scope": "selected",
            "state": "staged",
            "q": request.GET.get("q", ""),
            "status": request.GET.get("status", ""),
            "admin": request.GET.get("admin", ""),
            "fill_from_m365": True,
        }
    )
    batches = imports.list_imports(actor=actor, directory_id=directory.pk)[:20]
    context = {
        **tab_context(request, directory, "import"),
        **_scan_context(actor, directory),
        "search": search,
        "page": page,
        "problem": problem,
        "options": options,
        "batches": batches,
        "undo_until": timezone.now() - imports.UNDO_WINDOW,
        "next_query": _next_query(request, page.next_cursor if page else None),
    }
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == "candidate-results":
        return render(request, "console/directories/_candidates.html", context)
    return render(request, "console/directories/import.html", context)


def _next_query(request: HttpRequest, cursor: str | None) -> str:
    if not cursor:
        return ""
    params = QueryDict(mutable=True)
    for key in ("q", "status", "admin"):
        if request.GET.get(key):
            params[key] = request.GET[key]
    params["cursor"] = cursor
    return params.urlencode()


@portal_view(post_only=True)
def import_scan(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    try:
        imports.scan_candidates(actor=actor, directory_id=directory.pk)
    except Conflict as conflict:
        messages.error(request, conflict.message)
    else:
        messages.info(request, f"Listing the users of {directory.name}; the progress shows below.")
    return redirect("directories:import", pk=directory.pk)


@portal_view()
def import_progress(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The scan's progress bar (polled by HTMX every 2 s until the scan is over).

    The poll that sees the scan over gets the whole import page instead, so its candidates and
    options appear without a reload (`settled_page`)."""
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    context = _scan_context(actor, directory)
    scan = context["scan"]
    if polled_by(request, "scan-progress") and not (scan and scan.state in ("queued", "running")):
        return settled_page(import_page(request, pk), "#import-page")
    return render(request, "console/directories/_scan_progress.html", context)


@portal_view()
def candidate_plan(request: HttpRequest, pk: int, candidate_pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    candidate = imports.get_candidate(actor=actor, candidate_id=candidate_pk)
    if candidate.scan.directory_id != directory.pk:
        raise NotFound("candidate", candidate_pk)
    state = request.GET.get("state", "staged")
    try:
        plan = imports.plan_for(actor=actor, candidate_id=candidate.pk, state=state)
    except ValidationFailed:
        plan = imports.plan_for(actor=actor, candidate_id=candidate.pk)
    context = {**tab_context(request, directory, "import"), "candidate": candidate, "plan": plan}
    return render(request, "console/directories/candidate_plan.html", context)


def _import_arguments(form: ImportOptionsForm, request: HttpRequest) -> dict[str, Any]:
    data = form.cleaned_data
    arguments: dict[str, Any] = {
        "state": data["state"],
        "confirm_admins": bool(data.get("confirm_admins")),
        "include_unlicensed": bool(data.get("include_unlicensed")),
        "include_disabled": bool(data.get("include_disabled")),
        "fill_from_m365": bool(data.get("fill_from_m365")),
    }
    if data["scope"] == "filter":
        arguments["filter"] = imports.CandidateFilter(
            search=data.get("q") or None, status=data.get("status") or None, admin=flag(data.get("admin"))
        )
    else:
        arguments["candidate_ids"] = [int(v) for v in request.POST.getlist("candidate_ids") if v.isdigit()]
    return arguments


def _import_form_error(request: HttpRequest, directory: Directory, form: ImportOptionsForm) -> HttpResponse:
    context = {**tab_context(request, directory, "import"), "form": form}
    return render(request, "console/directories/import_refused.html", context, status=422)


@portal_view(post_only=True)
def import_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The exact Microsoft 365 writes the import would cause, and the form that starts it."""
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    form = ImportOptionsForm(request.POST)
    if not form.is_valid():
        return _import_form_error(request, directory, form)
    arguments = _import_arguments(form, request)
    try:
        preview = imports.preview_import(
            actor=actor, directory_id=directory.pk, limit=PREVIEW_WRITES, **arguments
        )
    except (ValidationFailed, Conflict) as error:
        show_service_error(
            form, error, {"candidate_ids": "scope", "filter": "scope", "directory_id": "scope"}
        )
        return _import_form_error(request, directory, form)
    context = {
        **tab_context(request, directory, "import"),
        "form": form,
        "preview": preview,
        "candidate_ids": arguments.get("candidate_ids", []),
    }
    return render(request, "console/directories/import_preview.html", context)


@portal_view(post_only=True)
def import_start(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    form = ImportOptionsForm(request.POST)
    if not form.is_valid():
        return _import_form_error(request, directory, form)
    try:
        batch = imports.start_import(
            actor=actor, directory_id=directory.pk, **_import_arguments(form, request)
        )
    except (ValidationFailed, Conflict) as error:
        show_service_error(
            form, error, {"candidate_ids": "scope", "filter": "scope", "directory_id": "scope"}
        )
        return _import_form_error(request, directory, form)
    messages.success(request, f"Import of {batch.requested} account(s) started.")
    return redirect("directories:batch", pk=directory.pk, batch_pk=batch.pk)


def _batch_for(actor: Actor, directory: Directory, batch_pk: int) -> Any:
    batch = imports.get_import(actor=actor, batch_id=batch_pk)
    if batch.directory_id != directory.pk:
        raise NotFound("import", batch_pk)
    return batch


def _batch_context(request: HttpRequest, directory: Directory, batch: Any) -> dict[str, Any]:
    undo_open = batch.state in ("done", "failed") and timezone.now() - batch.created_at <= imports.UNDO_WINDOW
    return {
        **tab_context(request, directory, "import"),
        "batch": batch,
        "undo_open": undo_open,
        "undo_until": batch.created_at + timedelta(hours=48),
    }


@portal_view()
def batch_detail(request: HttpRequest, pk: int, batch_pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    batch = _batch_for(actor, directory, batch_pk)
    items = imports.list_import_items(actor=actor, batch_id=batch.pk)[:500]
    restores = imports.restores_of(actor=actor, batch_id=batch.pk)
    return render(
        request,
        "console/directories/batch.html",
        {
            **_batch_context(request, directory, batch),
            "items": items,
            "restores": restores,
            "restores_pending": any(r.state == "pending" for r in restores),
        },
    )


@portal_view()
def batch_progress(request: HttpRequest, pk: int, batch_pk: int) -> HttpResponseBase:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    batch = _batch_for(actor, directory, batch_pk)
    if polled_by(request, "batch-progress") and batch.state != "running":
        # the import just ended under a polling page: its results and Undo come in too
        return settled_page(batch_detail(request, pk, batch_pk), "#batch-page")
    return render(
        request, "console/directories/_batch_progress.html", _batch_context(request, directory, batch)
    )


@portal_view(write_page=True)
def batch_undo(request: HttpRequest, pk: int, batch_pk: int) -> HttpResponse:
    """The undo's confirmation (what stays in Microsoft 365, the offer to put old values back), then the undo."""
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    batch = _batch_for(actor, directory, batch_pk)
    form = UndoImportForm(
        request.POST if request.method == "POST" else None, initial={"restore_remote": True}
    )
    try:
        effects = imports.undo_effects(actor=actor, batch_id=batch.pk)
        if request.method == "POST" and form.is_valid():
            restore = bool(form.cleaned_data.get("restore_remote"))
            imports.undo_import(actor=actor, batch_id=batch.pk, restore_remote=restore)
            messages.success(request, _undone_words(effects, restore))
            return redirect("directories:batch", pk=directory.pk, batch_pk=batch.pk)
    except Conflict as conflict:
        messages.error(request, conflict.message)
        return redirect("directories:batch", pk=directory.pk, batch_pk=batch.pk)
    context = {**_batch_context(request, directory, batch), "effects": effects, "form": form}
    return render(request, "console/directories/undo.html", context)


def _undone_words(effects: imports.UndoEffects, restore: bool) -> str:
    words = "Import undone: the users it created and its bindings are removed."
    if restore and effects.restorable:
        return (
            f"{words} The old values of {effects.restorable} account(s) are being put back in Microsoft 365."
        )
    if effects.accounts:
        return f"{words} What Lockstep wrote to {len(effects.accounts)} account(s) stays in Microsoft 365."
    return f"{words} Microsoft 365 is untouched."


# --- remote groups ---------------------------------------------------------------------------------


@portal_view()
def remote_groups(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    problem = ""
    rows: list[Any] = []
    try:
        rows = imports.list_remote_groups(actor=actor, directory_id=directory.pk)
    except Conflict as conflict:
        problem = conflict.message
    except GraphError as error:
        problem = graph_words(error)
    context = {**tab_context(request, directory, "groups"), "rows": rows, "problem": problem}
    return render(request, "console/directories/groups.html", context)


@portal_view(post_only=True)
def remote_groups_import(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    remote_ids = [v for v in request.POST.getlist("remote_ids") if v.strip()]
    try:
        outcomes = imports.import_groups(actor=actor, directory_id=directory.pk, remote_ids=remote_ids)
    except (ValidationFailed, Conflict) as error:
        messages.error(
            request,
            str(error.message if isinstance(error, Conflict) else "Select at least one security group."),
        )
        return redirect("directories:groups", pk=directory.pk)
    for outcome in outcomes:
        name = outcome.display_name or outcome.remote_id
        if outcome.outcome == "imported":
            messages.success(request, f"{name} imported with {outcome.members_added} member(s).")
        else:
            messages.error(request, f"{name}: {outcome.reason}")
    return redirect("directories:groups", pk=directory.pk)
