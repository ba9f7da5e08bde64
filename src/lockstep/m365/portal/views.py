"""Admin Portal pages for Microsoft 365 directories (SPEC 2, 5).

Views check the shape of the input and call the services of `lockstep.m365.services`; reads
that no service offers come from `lockstep.m365.overview`. Every view is wrapped by
`portal_view` (the console's session and role rules).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from lockstep.console.access import actor_for
from lockstep.console.forms import show_service_error
from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, NotFound, ServiceError, ValidationFailed
from lockstep.directory.models import User
from lockstep.directory.services import groups as group_service
from lockstep.directory.services import users as user_service
from lockstep.m365 import overview
from lockstep.m365.credentials import certificate_thumbprint
from lockstep.m365.graph.errors import GraphError
from lockstep.m365.models import Directory, DirectoryDomain, HeldWrite, UserBinding
from lockstep.m365.portal import context as portal_context
from lockstep.m365.portal.access import portal_view
from lockstep.m365.portal.forms import (
    BindForm,
    BrakeForm,
    CandidateSearchForm,
    DeactivateForm,
    DecideForm,
    DeleteAccountForm,
    DirectoryForm,
    ImportOptionsForm,
    ManagedAttributesForm,
    flag,
)
from lockstep.m365.services import accounts, brake, deactivate, directories, imports
from lockstep.m365.services.bindings import bind_group, bind_user, get_directory, unbind_user

CANDIDATES_PAGE = 50
PREVIEW_WRITES = 500
PLAN_WRITES = 1000


def _graph_words(error: GraphError) -> str:
    return error.plain_words or error.message or str(error)


def consent_link(request: HttpRequest, directory: Directory) -> str:
    redirect_uri = request.build_absolute_uri(reverse("m365portal:detail", args=[directory.pk]))
    return directories.consent_url(directory, redirect_uri, f"lockstep-directory-{directory.pk}")


def _tab_context(request: HttpRequest, directory: Directory, tab: str) -> dict[str, Any]:
    return {
        "directory": directory,
        "tab": tab,
        "held_count": HeldWrite.objects.filter(directory=directory, decision="").count(),
    }


# --- list, add, detail, verify --------------------------------------------------------------------


@portal_view()
def directory_list(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    rows = [(d, overview.summary(d)) for d in directories.list_directories(actor=actor)]
    usage = imports.usage_report(actor=actor) if rows else None
    return render(request, "m365portal/list.html", {"rows": rows, "usage": usage})


@portal_view(write_page=True)
def directory_new(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    form = DirectoryForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            directory, certificate_pem = directories.add_directory(actor=actor, fields=form.service_fields())
        except (ValidationFailed, Conflict) as error:
            show_service_error(form, error)
        except GraphError as error:
            form.add_error(None, _graph_words(error))
        else:
            if certificate_pem:
                # Shown this once: Lockstep keeps only the encrypted private key and the certificate.
                context = {
                    **_tab_context(request, directory, "overview"),
                    "certificate_pem": certificate_pem,
                    "consent_url": consent_link(request, directory),
                }
                return render(request, "m365portal/created.html", context, status=201)
            messages.success(
                request,
                f"Directory {directory.name} added and verified: {directory.get_health_display()}.",
            )
            return redirect("m365portal:detail", pk=directory.pk)
    return render(request, "m365portal/new.html", {"form": form})


@portal_view()
def directory_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    _consent_outcome(request, directory)
    domains = DirectoryDomain.objects.filter(directory=directory).order_by("-is_default", "name")
    summary = overview.summary(directory)
    context = {
        **_tab_context(request, directory, "overview"),
        "verification": overview.verification_view(directory),
        "domains": domains,
        "summary": summary,
        "thumbprint": certificate_thumbprint(directory.certificate_pem) if directory.certificate_pem else "",
        "errors": overview.recent_errors(directory),
        "consent_url": consent_link(request, directory),
        "age_words": overview.age_words(summary.health.oldest_pending_age_seconds),
    }
    return render(request, "m365portal/detail.html", context)


def _consent_outcome(request: HttpRequest, directory: Directory) -> None:
    """Microsoft sends the admin back here after the admin-consent page; say what happened."""
    if request.GET.get("state") != f"lockstep-directory-{directory.pk}":
        return
    if request.GET.get("admin_consent", "").lower() == "true":
        directories.record_consent(directory)
        messages.success(request, "Admin consent granted. Press “Verify now” to check the permissions.")
    elif request.GET.get("error"):
        words = request.GET.get("error_description") or request.GET["error"]
        messages.error(request, f"Admin consent was not granted: {words[:300]}")


@portal_view(post_only=True)
def directory_verify(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    try:
        report = directories.verify_directory(actor=actor, directory_id=directory.pk)
    except GraphError as error:
        messages.error(request, f"Verification failed: {_graph_words(error)}")
    else:
        if report.problems:
            messages.warning(request, "Verified with problems: " + "; ".join(report.problems))
        else:
            messages.success(request, f"{directory.name} verified: everything Lockstep needs is in place.")
    return redirect("m365portal:detail", pk=directory.pk)


# --- settings: managed attributes and the deletion brake ----------------------------------------------


def _settings_page(
    request: HttpRequest,
    directory: Directory,
    managed_form: ManagedAttributesForm | None = None,
    brake_form: BrakeForm | None = None,
    status: int = 200,
    preview: tuple[list[overview.PendingWrite], int] | None = None,
) -> HttpResponse:
    context = {
        **_tab_context(request, directory, "settings"),
        "preview": preview,
        "managed_form": managed_form
        or ManagedAttributesForm(initial={"managed_attributes": directory.managed()}),
        "brake_form": brake_form
        or BrakeForm(
            initial={
                "count": directory.brake_count,
                "percent": directory.brake_percent,
                "window_minutes": directory.brake_window_minutes,
            }
        ),
    }
    return render(request, "m365portal/settings.html", context, status=status)


@portal_view()
def directory_settings(request: HttpRequest, pk: int) -> HttpResponse:
    directory = get_directory(actor=actor_for(request), directory_id=pk)
    return _settings_page(request, directory)


@portal_view(post_only=True)
def directory_managed(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    form = ManagedAttributesForm(request.POST)
    if form.is_valid() and request.POST.get("preview"):
        chosen = list(form.cleaned_data["managed_attributes"])
        preview = overview.managed_change_writes(directory, chosen, limit=PLAN_WRITES)
        return _settings_page(request, directory, managed_form=form, preview=preview)
    if form.is_valid():
        try:
            accounts.set_managed_attributes(
                actor=actor,
                directory_id=directory.pk,
                attributes=list(form.cleaned_data["managed_attributes"]),
            )
        except (ValidationFailed, Conflict) as error:
            show_service_error(form, error)
        else:
            messages.success(
                request, "Managed attributes saved; newly managed ones are written on the next pass."
            )
            return redirect("m365portal:settings", pk=directory.pk)
    return _settings_page(request, directory, managed_form=form, status=422)


@portal_view(post_only=True)
def directory_brake(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    form = BrakeForm(request.POST)
    if form.is_valid():
        try:
            brake.set_brake(
                actor=actor,
                directory_id=directory.pk,
                count=form.cleaned_data["count"],
                percent=form.cleaned_data["percent"],
                window_minutes=form.cleaned_data["window_minutes"],
            )
        except (ValidationFailed, Conflict) as error:
            show_service_error(form, error)
        else:
            messages.success(request, "Deletion brake thresholds saved.")
            return redirect("m365portal:settings", pk=directory.pk)
    return _settings_page(request, directory, brake_form=form, status=422)


# --- deletion brake queue ---------------------------------------------------------------------------


@portal_view()
def held_list(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    held = brake.list_held(actor=actor, directory_id=directory.pk)
    return render(request, "m365portal/held.html", {**_tab_context(request, directory, "held"), "held": held})


@portal_view(post_only=True)
def held_decide(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    form = DecideForm(request.POST)
    ids = [int(v) for v in request.POST.getlist("held_ids") if v.isdigit()]
    if not form.is_valid():
        messages.error(request, "Choose approve or reject.")
        return redirect("m365portal:held", pk=directory.pk)
    decide = brake.approve_held if form.cleaned_data["decision"] == "approve" else brake.reject_held
    try:
        count = decide(actor=actor, directory_id=directory.pk, held_ids=ids)
    except ValidationFailed as error:
        messages.error(request, " ".join(m for msgs in error.errors.values() for m in msgs))
    else:
        verb = "approved: they go out on the next pass" if decide is brake.approve_held else "rejected"
        messages.success(request, f"{count} held write{'s' if count != 1 else ''} {verb}.")
    return redirect("m365portal:held", pk=directory.pk)


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
        }
    )
    batches = imports.list_imports(actor=actor, directory_id=directory.pk)[:20]
    context = {
        **_tab_context(request, directory, "import"),
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
        return render(request, "m365portal/_candidates.html", context)
    return render(request, "m365portal/import.html", context)


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
    return redirect("m365portal:import", pk=directory.pk)


@portal_view()
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The scan's progress bar (polled by HTMX every second until the scan is over)."""
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    return render(request, "m365portal/_scan_progress.html", _scan_context(actor, directory))


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
    context = {**_tab_context(request, directory, "import"), "candidate": candidate, "plan": plan}
    return render(request, "m365portal/candidate_plan.html", context)


def _import_arguments(form: ImportOptionsForm, request: HttpRequest) -> dict[str, Any]:
    data = form.cleaned_data
    arguments: dict[str, Any] = {
        "state": data["state"],
        "confirm_admins": bool(data.get("confirm_admins")),
        "include_unlicensed": bool(data.get("include_unlicensed")),
        "include_disabled": bool(data.get("include_disabled")),
    }
    if data["scope"] == "filter":
        arguments["filter"] = imports.CandidateFilter(
            search=data.get("q") or None, status=data.get("status") or None, admin=flag(data.get("admin"))
        )
    else:
        arguments["candidate_ids"] = [int(v) for v in request.POST.getlist("candidate_ids") if v.isdigit()]
    return arguments


def _import_form_error(request: HttpRequest, directory: Directory, form: ImportOptionsForm) -> HttpResponse:
    context = {**_tab_context(request, directory, "import"), "form": form}
    return render(request, "m365portal/import_refused.html", context, status=422)


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
        **_tab_context(request, directory, "import"),
        "form": form,
        "preview": preview,
        "candidate_ids": arguments.get("candidate_ids", []),
    }
    return render(request, "m365portal/import_preview.html", context)


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
    return redirect("m365portal:batch", pk=directory.pk, batch_pk=batch.pk)


def _batch_for(actor: Actor, directory: Directory, batch_pk: int) -> Any:
    batch = imports.get_import(actor=actor, batch_id=batch_pk)
    if batch.directory_id != directory.pk:
        raise NotFound("import", batch_pk)
    return batch


def _batch_context(request: HttpRequest, directory: Directory, batch: Any) -> dict[str, Any]:
    undo_open = batch.state in ("done", "failed") and timezone.now() - batch.created_at <= imports.UNDO_WINDOW
    return {
        **_tab_context(request, directory, "import"),
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
    return render(
        request, "m365portal/batch.html", {**_batch_context(request, directory, batch), "items": items}
    )


@portal_view()
def batch_progress(request: HttpRequest, pk: int, batch_pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    batch = _batch_for(actor, directory, batch_pk)
    return render(request, "m365portal/_batch_progress.html", _batch_context(request, directory, batch))


@portal_view(post_only=True)
def batch_undo(request: HttpRequest, pk: int, batch_pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    batch = _batch_for(actor, directory, batch_pk)
    try:
        imports.undo_import(actor=actor, batch_id=batch.pk)
    except Conflict as conflict:
        messages.error(request, conflict.message)
    else:
        messages.success(
            request,
            "Import undone: the users it created and its bindings are removed; Microsoft 365 is untouched.",
        )
    return redirect("m365portal:batch", pk=directory.pk, batch_pk=batch.pk)


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
        problem = _graph_words(error)
    context = {**_tab_context(request, directory, "groups"), "rows": rows, "problem": problem}
    return render(request, "m365portal/groups.html", context)


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
        return redirect("m365portal:groups", pk=directory.pk)
    for outcome in outcomes:
        name = outcome.display_name or outcome.remote_id
        if outcome.outcome == "imported":
            messages.success(request, f"{name} imported with {outcome.members_added} member(s).")
        else:
            messages.error(request, f"{name}: {outcome.reason}")
    return redirect("m365portal:groups", pk=directory.pk)


# --- plan preview, export, deactivate --------------------------------------------------------------------


@portal_view()
def pending_plan(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    writes, total = overview.pending_writes(directory, limit=PLAN_WRITES)
    context = {**_tab_context(request, directory, "plan"), "writes": writes, "total": total}
    return render(request, "m365portal/plan.html", context)


@portal_view()
def bindings_export(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    text = deactivate.export_bindings(actor=actor, directory_id=directory.pk)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="directory-{directory.pk}-bindings.csv"'
    return response


@portal_view(write_page=True)
def directory_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    form = DeactivateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            deactivate.deactivate_directory(
                actor=actor, directory_id=directory.pk, typed_confirmation=form.cleaned_data["confirmation"]
            )
        except (ValidationFailed, Conflict) as error:
            show_service_error(form, error, {"typed_confirmation": "confirmation"})
        else:
            messages.success(
                request,
                f"{directory.name} deactivated: everything Lockstep held for it is deleted; Microsoft 365 is untouched.",
            )
            return redirect("m365portal:list")
    context = {
        **_tab_context(request, directory, "deactivate"),
        "form": form,
        "summary": overview.summary(directory),
    }
    status = 200 if request.method != "POST" else 422
    return render(request, "m365portal/deactivate.html", context, status=status)


# --- users and groups: bind, unbind, delete and restore accounts ---------------------------------------


def _user_page(
    request: HttpRequest, user: User, form: BindForm | None = None, status: int = 200
) -> HttpResponse:
    actor = actor_for(request)
    context = {"person": user, **portal_context.user_directories_context(actor, user, form=form)}
    return render(request, "m365portal/user_directories.html", context, status=status)


@portal_view()
def user_directories(request: HttpRequest, user_pk: int) -> HttpResponse:
    user = user_service.get_user(actor=actor_for(request), user_id=user_pk)
    return _user_page(request, user)


@portal_view(post_only=True)
def user_bind(request: HttpRequest, user_pk: int) -> HttpResponse:
    actor = actor_for(request)
    user = user_service.get_user(actor=actor, user_id=user_pk)
    form = portal_context.bind_form(actor, request.POST)
    if not form.is_valid():
        return _user_page(request, user, form, status=422)
    directory = get_directory(actor=actor, directory_id=form.cleaned_data["directory_id"])
    try:
        bind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    except (ValidationFailed, Conflict) as error:
        show_service_error(form, error, {"email": "directory_id"})
        return _user_page(request, user, form, status=409)
    messages.success(
        request, f"{user.username} bound to {directory.name}; the account follows within seconds."
    )
    back = "console:user_detail" if request.POST.get("next") == "user" else "m365portal:user"
    return redirect(back, user.pk)


@portal_view(post_only=True)
def user_unbind(request: HttpRequest, user_pk: int, pk: int) -> HttpResponse:
    actor = actor_for(request)
    user = user_service.get_user(actor=actor, user_id=user_pk)
    directory = get_directory(actor=actor, directory_id=pk)
    unbind_user(actor=actor, user_id=user.pk, directory_id=directory.pk)
    messages.success(
        request,
        f"{user.username} unbound from {directory.name}: Microsoft 365 sign-in is blocked and sessions revoked.",
    )
    return redirect("m365portal:user", user.pk)


@portal_view(write_page=True)
def user_delete_account(request: HttpRequest, user_pk: int, pk: int) -> HttpResponse:
    actor = actor_for(request)
    user = user_service.get_user(actor=actor, user_id=user_pk)
    directory = get_directory(actor=actor, directory_id=pk)
    binding = UserBinding.objects.filter(directory=directory, user=user, unbound=False).first()
    if binding is None:
        raise NotFound("binding", f"{user.pk}@{directory.pk}")
    form = DeleteAccountForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            deleted = accounts.delete_remote_account(
                actor=actor,
                user_id=user.pk,
                directory_id=directory.pk,
                confirm=bool(form.cleaned_data["confirm"]),
            )
        except (ValidationFailed, Conflict) as error:
            show_service_error(form, error, {"user_id": "confirm"})
        else:
            messages.success(request, deleted.message)
            return redirect("m365portal:user", user.pk)
    context = {
        "person": user,
        "directory": directory,
        "binding": binding,
        "form": form,
        "recycle_days": accounts.RECYCLE_BIN_DAYS,
        "purge_on": timezone.now() + timedelta(days=accounts.RECYCLE_BIN_DAYS),
    }
    status = 200 if request.method != "POST" else 422
    return render(request, "m365portal/delete_account.html", context, status=status)


@portal_view(post_only=True)
def binding_restore(request: HttpRequest, binding_pk: int) -> HttpResponse:
    actor = actor_for(request)
    binding = UserBinding.objects.filter(
        pk=binding_pk, directory__organization_id=actor.organization_id, user__isnull=False
    ).first()
    if binding is None or binding.user_id is None:
        raise NotFound("binding", binding_pk)
    try:
        accounts.restore_remote_account(actor=actor, binding_id=binding.pk)
    except Conflict as conflict:
        messages.error(request, conflict.message)
    else:
        messages.success(request, "The deleted Microsoft 365 account is restored and adopted.")
    return redirect("m365portal:user", binding.user_id)


def _group_page(
    request: HttpRequest, group: Any, form: BindForm | None = None, status: int = 200
) -> HttpResponse:
    actor = actor_for(request)
    context = {"group": group, **portal_context.group_directories_context(actor, group, form=form)}
    return render(request, "m365portal/group_directories.html", context, status=status)


@portal_view()
def group_directories(request: HttpRequest, group_pk: int) -> HttpResponse:
    group = group_service.get_group(actor=actor_for(request), group_id=group_pk)
    return _group_page(request, group)


@portal_view(post_only=True)
def group_bind(request: HttpRequest, group_pk: int) -> HttpResponse:
    actor = actor_for(request)
    group = group_service.get_group(actor=actor, group_id=group_pk)
    form = portal_context.bind_form(actor, request.POST)
    if not form.is_valid():
        return _group_page(request, group, form, status=422)
    directory = get_directory(actor=actor, directory_id=form.cleaned_data["directory_id"])
    try:
        bind_group(actor=actor, group_id=group.pk, directory_id=directory.pk)
    except ServiceError as error:
        show_service_error(form, error)
        return _group_page(request, group, form, status=409)
    messages.success(request, f"{group.name} bound to {directory.name}: it becomes a security group there.")
    return redirect("m365portal:group", group.pk)
