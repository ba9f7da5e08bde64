"""Forms of the Microsoft 365 pages: they check only the shape of the input.

The rules belong to the services; their ValidationFailed / Conflict messages are placed beside
the fields with `lockstep.directory.form_errors.show_service_error`.
"""

from __future__ import annotations

from typing import Any

from django import forms

from lockstep.console.forms import ConsoleForm
from lockstep.directory.models import UserState
from lockstep.m365.brake_window import MAX_WINDOW_MINUTES
from lockstep.m365.models import Cloud, CredentialKind
from lockstep.m365.services.accounts import MANAGEABLE_ATTRIBUTES

IMPORT_STATES = [(UserState.STAGED, "Staged (cannot sign in yet)"), (UserState.ACTIVE, "Active")]
CANDIDATE_STATUSES = [
    ("", "Any match status"),
    ("new", "New (no Lockstep user)"),
    ("matched", "Matched"),
    ("ambiguous", "Ambiguous"),
    ("bound", "Already bound"),
]
FLAG_CHOICES = [("", "Any"), ("yes", "Yes"), ("no", "No")]


def flag(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


class DirectoryForm(ConsoleForm):
    name = forms.CharField(label="Name", required=False, help_text="How Lockstep shows this tenant.")
    tenant_id = forms.CharField(
        label="Tenant id", required=False, help_text="Directory (tenant) ID in Entra."
    )
    client_id = forms.CharField(
        label="Client id", required=False, help_text="Application (client) ID of the app registration."
    )
    credential_kind = forms.ChoiceField(
        label="Credential",
        choices=[
            (
                CredentialKind.CERTIFICATE,
                "Generate a certificate (recommended): Lockstep keeps the private key",
            ),
            (CredentialKind.SECRET, "Client secret"),
        ],
        initial=CredentialKind.CERTIFICATE,
        widget=forms.RadioSelect,
    )
    client_secret = forms.CharField(
        label="Client secret",
        required=False,
        strip=False,
        help_text="Only for a client secret. Encrypted at once and never shown again.",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
    )
    cloud = forms.ChoiceField(label="Cloud", choices=Cloud.choices, initial=Cloud.GLOBAL)
    login_base_url = forms.CharField(
        label="Login base URL",
        required=False,
        help_text="Custom endpoints only, e.g. https://login.example:8443",
    )
    graph_base_url = forms.CharField(
        label="Graph base URL",
        required=False,
        help_text="Custom endpoints only, e.g. https://graph.example:8443/v1.0",
    )
    godaddy_override = forms.BooleanField(
        label="Override GoDaddy detection (only if you are sure the tenant is not operated by GoDaddy)",
        required=False,
    )

    def service_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data.get("credential_kind") != CredentialKind.SECRET:
            data.pop("client_secret", None)
        if data.get("cloud") != Cloud.CUSTOM:
            data.pop("login_base_url", None)
            data.pop("graph_base_url", None)
        return data


class ManagedAttributesForm(ConsoleForm):
    managed_attributes = forms.MultipleChoiceField(
        label="Managed attributes",
        choices=[(a, a) for a in MANAGEABLE_ATTRIBUTES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Lockstep keeps these equal to its own values; drift made in Microsoft 365 is put back.",
    )


class BrakeForm(ConsoleForm):
    count = forms.IntegerField(label="Hold when Lockstep disables more than (accounts)", min_value=0)
    percent = forms.IntegerField(label="and more than (% of bound accounts)", min_value=0, max_value=100)
    window_minutes = forms.IntegerField(
        label="within any (minutes)",
        min_value=1,
        max_value=MAX_WINDOW_MINUTES,
        help_text="A sliding window: disables made one at a time count like disables made at once.",
    )


class BindForm(ConsoleForm):
    directory_id = forms.TypedChoiceField(label="Directory", coerce=int, choices=())

    def __init__(self, *args: Any, directories: list[tuple[int, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["directory_id"].choices = directories or []  # type: ignore[attr-defined]


class CandidateSearchForm(ConsoleForm):
    q = forms.CharField(label="Search", required=False, max_length=200)
    status = forms.ChoiceField(label="Match status", choices=CANDIDATE_STATUSES, required=False)
    admin = forms.ChoiceField(label="Admin role", choices=FLAG_CHOICES, required=False)


class ImportOptionsForm(ConsoleForm):
    scope = forms.ChoiceField(
        label="Import",
        choices=[("selected", "The selected accounts"), ("filter", "Everything matching the search")],
        initial="selected",
        widget=forms.RadioSelect,
    )
    q = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)
    status = forms.CharField(required=False, widget=forms.HiddenInput)
    admin = forms.CharField(required=False, widget=forms.HiddenInput)
    state = forms.ChoiceField(label="State of the users Lockstep creates", choices=IMPORT_STATES)
    include_unlicensed = forms.BooleanField(label="Include unlicensed accounts", required=False)
    include_disabled = forms.BooleanField(label="Include disabled accounts", required=False)
    confirm_admins = forms.BooleanField(
        label="I confirm taking over accounts that hold Entra admin roles", required=False
    )
    fill_from_m365 = forms.BooleanField(
        label="Fill empty Lockstep fields from Microsoft 365",
        help_text="For accounts matched to existing Lockstep users: an empty Lockstep field takes the "
        "Microsoft 365 value, so the takeover clears nothing there.",
        required=False,
        initial=True,
    )


class UndoImportForm(ConsoleForm):
    restore_remote = forms.BooleanField(
        label="Put the old values back in Microsoft 365",
        help_text="Writes each account's values from before the import back, except values changed in "
        "Microsoft 365 since.",
        required=False,
    )


class DecideForm(ConsoleForm):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])


class DeleteAccountForm(ConsoleForm):
    confirm = forms.BooleanField(
        label="I understand: the Microsoft 365 account goes to the recycle bin and is purged after 30 days",
        required=False,
    )


class DeactivateForm(ConsoleForm):
    confirmation = forms.CharField(
        label="Type the directory's name to confirm", max_length=100, required=False
    )
