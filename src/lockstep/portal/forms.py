"""User Portal forms: they check only the shape of the input (the services hold the rules)."""

from __future__ import annotations

from typing import Any

from django import forms

from lockstep.directory import form_errors
from lockstep.directory.errors import ServiceError
from lockstep.directory.field_labels import USER_FIELD_LABELS

FIELD_LABELS = USER_FIELD_LABELS  # the same names as the Admin Portal


class PortalForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def show_service_error(self, error: ServiceError, field_map: dict[str, str] | None = None) -> None:
        form_errors.show_service_error(self, error, field_map)


def _password(label: str, autocomplete: str, **attrs: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete, **attrs}),
    )


class LoginForm(PortalForm):
    login = forms.CharField(
        label="Username or email",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = _password("Password", "current-password")
    organization = forms.CharField(required=False, max_length=60, widget=forms.HiddenInput)


class CodeForm(PortalForm):
    code = forms.CharField(
        label="Code from your authenticator app, or a recovery code",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


class EnrolForm(PortalForm):
    code = forms.CharField(
        label="Six-digit code",
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class PasswordConfirmForm(PortalForm):
    password = _password("Your password", "current-password")


class PasswordChangeForm(PortalForm):
    current_password = _password("Current password", "current-password")
    new_password = _password("New password", "new-password")
    new_password_again = _password("New password again", "new-password")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("new_password"), data.get("new_password_again")
        if first and second and first != second:
            self.add_error("new_password_again", "The two new passwords are not the same.")
        return data


ALTERNATE_EMAIL = "alternate_email"


def profile_form(editable: list[str], data: Any = None, initial: dict[str, Any] | None = None) -> PortalForm:
    """A form with one text field per attribute the organization lets its users edit."""
    form = PortalForm(data, initial=initial)
    for name in editable:
        form.fields[name] = forms.CharField(
            label=FIELD_LABELS[name],
            required=False,
            strip=False,
            widget=forms.TextInput(attrs={"autocomplete": "off"}),
        )
    if ALTERNATE_EMAIL in editable:  # it receives password resets: changing it takes the password
        form.fields["current_password"] = forms.CharField(
            label="Current password (needed only to change your alternate email)",
            required=False,
            strip=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        )
    return form
