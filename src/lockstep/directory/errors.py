"""Errors raised by services; the API and portals translate them (422, 429, 409, 404, 403)."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class for every error a service reports to its caller."""


class ValidationFailed(ServiceError):
    """Input broke one or more rules; `errors` maps each field to the rules it broke."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()))


class Conflict(ServiceError):
    """The request clashes with existing state (a duplicate, a disallowed transition)."""

    def __init__(self, field: str, message: str, *, allowed: list[str] | None = None) -> None:
        self.field = field
        self.message = message
        self.allowed = allowed
        super().__init__(f"{field}: {message}")


class TooBusy(Conflict):
    """Too much of this work is already running for the caller; retry later (a 429)."""


class NotFound(ServiceError):
    """No such object in the caller's organization (objects of others look the same)."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key} not found")


class PermissionDenied(ServiceError):
    """The caller may not do this (e.g. a read-only administrator writing)."""


def collect(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)
