"""Directory pages: list, add, detail, verify, settings, held writes, plan preview, export,
deactivate (SPEC 2, 5).

Views check the shape of the input and call the services of `lockstep.m365.services`; reads
that no service offers come from `lockstep.m365.overview`. Every view is wrapped by
`portal_view` (the console's session and role rules).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from lockstep.console.access import actor_for
from lockstep.console.directories.access import portal_view
from lockstep.console.directories.common import (
    PLAN_WRITES,
    consent_link,
    graph_words,
    tab_context,
)
from lockstep.console.directories.forms import (
    BrakeForm,
    DeactivateForm,
    DecideForm,
    DirectoryForm,
    ManagedAttributesForm,
)
from lockstep.directory.errors import Conflict, TooBusy, ValidationFailed
from lockstep.directory.form_errors import show_service_error
from lockstep.m365 import directory_status, overview, verification_runs, write_plans
from lockstep.m365.credentials import certificate_thumbprint
from lockstep.m365.graph.errors import GraphError
from lockstep.m365.models import Directory, DirectoryDomain
from lockstep.m365.services import accounts, brake, deactivate, directories, imports
from lockstep.m365.services.bindings import get_directory
from lockstep.m365.services.errors import MicrosoftRefused

# --- list, add, detail, verify --------------------------------------------------------------------


@portal_view()
def directory_list(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    rows = [
        (d, overview.summary(d), state)
        for d, state in directory_status.organization_states(actor.organization_id)
    ]
    usage = imports.usage_report(actor=actor) if rows else None
    return render(request, "console/directories/list.html", {"rows": rows, "usage": usage})


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
            form.add_error(None, graph_words(error))
        else:
            if certificate_pem:
                # Shown this once: Lockstep keeps only the encrypted private key and the certificate.
                context = {
                    **tab_context(request, directory, "overview"),
                    "certificate_pem": certificate_pem,
                    "consent_url": consent_link(request, directory),
                }
                return render(request, "console/directories/created.html", context, status=201)
            directory.refresh_from_db()
            if verification_runs.is_running(directory):
                messages.info(request, f"Directory {directory.name} added. {STILL_VERIFYING}")
            else:
                messages.success(
                    request,
                    f"Directory {directory.name} added and verified: {directory.get_health_display()}.",
                )
            return redirect("directories:detail", pk=directory.pk)
    return render(request, "console/directories/new.html", {"form": form})


@portal_view()
def directory_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    _consent_outcome(request, directory)
    domains = DirectoryDomain.objects.filter(directory=directory).order_by("-is_default", "name")
    summary = overview.summary(directory)
    context = {
        **tab_context(request, directory, "overview"),
        "verification": overview.verification_view(directory),
        "verification_running": verification_runs.is_running(directory),
        "domains": domains,
        "summary": summary,
        "thumbprint": certificate_thumbprint(directory.certificate_pem) if directory.certificate_pem else "",
        "errors": overview.recent_errors(directory),
        "consent_url": consent_link(request, directory),
        "age_words": overview.age_words(summary.health.oldest_pending_age_seconds),
    }
    return render(request, "console/directories/detail.html", context)


STILL_VERIFYING = (
    "Verification is running: Microsoft 365 has not answered yet. It goes on in the background; "
    "reload this page in a few seconds to see the result."
)


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
        report = directories.verify_directory(
            actor=actor, directory_id=directory.pk, wait=settings.M365_VERIFY_WAIT_SECONDS
        )
    except MicrosoftRefused as refused:
        messages.error(request, f"Verification failed: {refused.message}")
    except TooBusy as busy:
        messages.error(request, f"Verification not started: {busy.message}")
    else:
        if report is None:
            messages.info(request, STILL_VERIFYING)
        elif report.problems:
            messages.warning(request, "Verified with problems: " + "; ".join(report.problems))
        else:
            messages.success(request, f"{directory.name} verified: everything Lockstep needs is in place.")
    return redirect("directories:detail", pk=directory.pk)


# --- settings: managed attributes and the deletion brake ----------------------------------------------


def _settings_page(
    request: HttpRequest,
    directory: Directory,
    managed_form: ManagedAttributesForm | None = None,
    brake_form: BrakeForm | None = None,
    status: int = 200,
    preview: tuple[list[write_plans.PendingWrite], int] | None = None,
) -> HttpResponse:
    context = {
        **tab_context(request, directory, "settings"),
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
    return render(request, "console/directories/settings.html", context, status=status)


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
        preview = write_plans.managed_change_writes(directory, chosen, limit=PLAN_WRITES)
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
            return redirect("directories:settings", pk=directory.pk)
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
            return redirect("directories:settings", pk=directory.pk)
    return _settings_page(request, directory, brake_form=form, status=422)


# --- deletion brake queue ---------------------------------------------------------------------------


@portal_view()
def held_list(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    held = brake.list_held(actor=actor, directory_id=directory.pk)
    return render(
        request, "console/directories/held.html", {**tab_context(request, directory, "held"), "held": held}
    )


@portal_view(post_only=True)
def held_decide(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    form = DecideForm(request.POST)
    ids = [int(v) for v in request.POST.getlist("held_ids") if v.isdigit()]
    if not form.is_valid():
        messages.error(request, "Choose approve or reject.")
        return redirect("directories:held", pk=directory.pk)
    decide = brake.approve_held if form.cleaned_data["decision"] == "approve" else brake.reject_held
    try:
        count = decide(actor=actor, directory_id=directory.pk, held_ids=ids)
    except ValidationFailed as error:
        messages.error(request, " ".join(m for msgs in error.errors.values() for m in msgs))
    else:
        verb = "approved: they go out on the next pass" if decide is brake.approve_held else "rejected"
        messages.success(request, f"{count} held write{'s' if count != 1 else ''} {verb}.")
    return redirect("directories:held", pk=directory.pk)


# --- plan preview, export, deactivate --------------------------------------------------------------------


@portal_view()
def pending_plan(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    directory = get_directory(actor=actor, directory_id=pk)
    writes, total = write_plans.pending_writes(directory, limit=PLAN_WRITES)
    context = {**tab_context(request, directory, "plan"), "writes": writes, "total": total}
    return render(request, "console/directories/plan.html", context)


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
            return redirect("directories:list")
    context = {
        **tab_context(request, directory, "deactivate"),
        "form": form,
        "summary": overview.summary(directory),
    }
    status = 200 if request.method != "POST" else 422
    return render(request, "console/directories/deactivate.html", context, status=status)
