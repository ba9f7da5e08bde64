"""Log record filters: secrets redacted, request id and organization id attached.

`OpsConfig.ready()` attaches both to every handler of the root logger, so they apply to
records from any logger, in text and JSON format alike.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from lockstep.ops.context import current_request, current_request_id, organization_id_of

REDACTED = "[redacted]"
SECRET_KEY_PATTERN = re.compile(
    r"password|passwd|passphrase|secret|token|authorization|api[_-]?key|cookie|credential|private[_-]?key",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_MAX_DEPTH = 6


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and bool(SECRET_KEY_PATTERN.search(key))


def redact(value: Any, depth: int = 0) -> Any:
    """A copy of `value` with the values of secret-looking keys replaced, recursively."""
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {k: REDACTED if is_secret_key(k) else redact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v, depth + 1) for v in value)
    return value


class RedactSecretsFilter(logging.Filter):
    """Replaces values of keys like password/secret/token/authorization in args and `extra`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and _BEARER.search(record.msg):
            record.msg = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", record.msg)
        if record.args:
            if isinstance(record.args, Mapping):
                record.args = redact(record.args)
            else:
                record.args = tuple(redact(arg) for arg in record.args)
        for key in list(record.__dict__):
            if key in _STANDARD_ATTRIBUTES:
                continue
            if is_secret_key(key):
                record.__dict__[key] = REDACTED
            else:
                record.__dict__[key] = redact(record.__dict__[key])
        return True


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `organization_id` to records logged while handling a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = current_request.get()
        request_id = current_request_id.get()
        if request_id is None:  # django.request logs 4xx/5xx after the middleware returned
            request = getattr(record, "request", None)
            request_id = getattr(request, "request_id", None)
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
            organization_id = organization_id_of(request)
            if organization_id is not None and not hasattr(record, "organization_id"):
                record.organization_id = organization_id
        return True


def install_filters(logger: logging.Logger | None = None) -> None:
    """Attach the filters to every handler of `logger` (the root logger by default), once."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        for filter_class in (RequestContextFilter, RedactSecretsFilter):
            if not any(isinstance(f, filter_class) for f in handler.filters):
                handler.addFilter(filter_class())
