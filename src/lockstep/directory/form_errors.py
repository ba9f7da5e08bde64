"""A service error shown on a form: each message beside the field it names (both portals)."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms

from lockstep.directory.errors import Conflict, ServiceError, ValidationFailed


def show_service_error(
    form: forms.Form, error: ServiceError, field_map: Mapping[str, str] | None = None
) -> None:
    """Put a service's ValidationFailed / Conflict messages beside the matching fields (a name
    the form lacks, or another error, goes to the top of the form)."""
    field_map = field_map or {}

    def place(field: str, message: str) -> None:
        name = field_map.get(field, field)
        form.add_error(name if name in form.fields else None, message)

    if isinstance(error, ValidationFailed):
        for field, messages in error.errors.items():
            for message in messages:
                place(field, message)
    elif isinstance(error, Conflict):
        place(error.field, error.message)
    else:
        form.add_error(None, str(error))
