"""Admin Portal forms: they check only the shape of the input.

The rules (lengths, formats, uniqueness, the password policy) belong to the services, and
their messages are put beside the fields with `show_service_error`, so the portal and the
API say the same thing.
"""

from __future__ import annotations

from typing import Any

from django import forms

from lockstep.directory.field_labels import USER_FIELD_LABELS
from lockstep.directory.models import AdminRole, UserState
from lockstep.directory.services.users_self import SELF_EDITABLE_FIELDS

USER_FIELD_HELP: dict[str, str] = {
    "email": "The primary email; it becomes the Microsoft 365 sign-in name.",
    "alternate_email": "Where activation mail goes.",
    "display_name": "Left empty: first and last name.",
    "usage_location": "Two-letter country code, e.g. US or DE.",
}


def _text(label: str, help_text: str = "", autocomplete: str = "off") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        help_text=help_text,
        widget=forms.TextInput(attrs={"autocomplete": autocomplete}),
    )


class ConsoleForm(forms.Form):
    """Labels sit above their fields, without Django's trailing colon."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class LoginForm(ConsoleForm):
    email = forms.CharField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label="Password",
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    # asked only when the email and password fit administrators of several organizations
    organization = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)


class CodeForm(ConsoleForm):
    code = forms.CharField(
        label="Six-digit code",
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9 ]*",
                "autofocus": True,
            }
        ),
    )


class UserFieldsForm(ConsoleForm):
    """Every user attribute an administrator types."""

    username = _text("Username")
    email = _text("Company email", USER_FIELD_HELP["email"], "off")
    alternate_email = _text("Alternate email", USER_FIELD_HELP["alternate_email"])
    first_name = _text("First name")
    last_name = _text("Last name")
    display_name = _text("Display name", USER_FIELD_HELP["display_name"])
    job_title = _text("Job title")
    department = _text("Department")
    business_phone = _text("Business phone")
    mobile_phone = _text("Mobile phone")
    employee_id = _text("Employee id")
    usage_location = _text("Usage location", USER_FIELD_HELP["usage_location"])

    def user_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name, "") for name in USER_FIELD_LABELS}


class UserCreateForm(UserFieldsForm):
    state = forms.ChoiceField(label="Initial state", choices=UserState.choices, initial=UserState.STAGED)
    specify_password = forms.BooleanField(label="Specify initial password", required=False)
    initial_password = forms.CharField(
        label="Initial password",
        required=False,
        strip=False,
        help_text="Used only when “Specify initial password” is ticked.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def initial_password_or_none(self) -> str | None:
        if not self.cleaned_data.get("specify_password"):
            return None
        return str(self.cleaned_data.get("initial_password") or "")


class PasswordForm(ConsoleForm):
    password = forms.CharField(
        label="New password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class GroupForm(ConsoleForm):
    name = forms.CharField(label="Name", required=False, strip=False)
    description = forms.CharField(
        label="Description", required=False, strip=False, widget=forms.Textarea(attrs={"rows": 3})
    )


def _any(label: str, values: list[str], current: object) -> list[tuple[str, str]]:
    """Choices of a free-valued filter: the values in use, and the current one even if gone."""
    shown = list(values)
    if current and str(current) not in shown:
        shown.append(str(current))
    return [("", label), *((value, value) for value in shown)]


class ListFilterForm(ConsoleForm):
    """Search, the Microsoft 365 status filter (with its directory when several) and the page."""

    q = forms.CharField(label="Search", required=False, max_length=200)
    m365_status = forms.ChoiceField(label="Microsoft 365", required=False)
    directory = forms.TypedChoiceField(label="Directory", required=False, coerce=int, empty_value=None)
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        statuses: list[tuple[str, str]],
        directories: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["m365_status"].choices = [("", "Any status"), *statuses]  # type: ignore[attr-defined]
        self.fields["directory"].choices = [("", "Any directory"), *directories]  # type: ignore[attr-defined]
        self.directory_choices = directories
        self.several_directories = len(directories) > 1


class UserFilterForm(ListFilterForm):
    q = forms.CharField(
        label="Search", required=False, max_length=200, help_text="Any part of a name or an email."
    )
    state = forms.ChoiceField(label="State", required=False, choices=[("", "Any state"), *UserState.choices])
    group = forms.TypedChoiceField(label="Group", required=False, coerce=int, empty_value=None)
    department = forms.CharField(label="Department", required=False, max_length=64)
    domain = forms.CharField(label="Email domain", required=False, max_length=255)
    field_order = ("q", "state", "group", "department", "domain", "m365_status", "directory", "page")

    def __init__(
        self,
        *args: Any,
        groups: list[tuple[int, str]],
        departments: list[str],
        domains: list[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [("", "Any group"), *groups]  # type: ignore[attr-defined]
        data = self.data if self.is_bound else {}
        self.fields["department"].widget = forms.Select(
            choices=_any("Any department", departments, data.get("department"))
        )
        self.fields["domain"].widget = forms.Select(choices=_any("Any domain", domains, data.get("domain")))


class MemberSearchForm(ConsoleForm):
    q = forms.CharField(label="Find users by username, email or name", required=False)


class SettingsForm(ConsoleForm):
    name = forms.CharField(label="Organization name", required=False)
    password_takeover = forms.BooleanField(
        label="Password takeover",
        required=False,
        help_text="Push each user's Lockstep password to Microsoft 365 at their first portal login.",
    )
    require_admin_mfa = forms.BooleanField(
        label="Require administrators to use an authenticator app (TOTP)", required=False
    )
    password_min_length = forms.IntegerField(label="Minimum password length", min_value=0)
    password_min_classes = forms.IntegerField(
        label="Kinds of character required (3 or 4)", min_value=0, max_value=4
    )
    password_banned_terms = forms.CharField(
        label="Extra banned words (one per line)", required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    portal_editable_fields = forms.MultipleChoiceField(
        label="Attributes users may edit in the User Portal",
        required=False,
        choices=[(name, USER_FIELD_LABELS[name]) for name in SELF_EDITABLE_FIELDS],
        widget=forms.CheckboxSelectMultiple,
        help_text="Never the username, company email, state, employee id or usage location.",
    )


class AdminCreateForm(ConsoleForm):
    email = forms.CharField(label="Email", required=False)
    name = forms.CharField(label="Name", required=False)
    role = forms.ChoiceField(label="Role", choices=AdminRole.choices, initial=AdminRole.ADMINISTRATOR)
    password = forms.CharField(
        label="Initial password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class RoleForm(ConsoleForm):
    role = forms.ChoiceField(label="Role", choices=AdminRole.choices)


API_KEY_ROLES = [(AdminRole.ADMINISTRATOR.value, "Administrator"), (AdminRole.READ_ONLY.value, "Read-only")]


class ApiKeyForm(ConsoleForm):
    name = forms.CharField(label="Name", required=False)
    role = forms.ChoiceField(label="Role", choices=API_KEY_ROLES, initial=AdminRole.ADMINISTRATOR)
    expires_in_days = forms.IntegerField(
        label="Expires after (days)", required=False, help_text="Empty: until revoked."
    )


class OwnPasswordForm(ConsoleForm):
    current_password = forms.CharField(
        label="Current password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = forms.CharField(
        label="New password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
