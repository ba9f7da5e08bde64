"""Plain words for why an email could not be sent (shown to admins; never the message itself)."""

from __future__ import annotations

import smtplib
import socket
import ssl

MAX_WORDS = 500


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}".strip()


def describe_failure(failure: BaseException, *, host: str, port: int) -> str:
    """One sentence naming the mail server and what went wrong."""
    server = f"the mail server at {host}:{port}"
    words: str
    if isinstance(failure, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(
            f"{address} ({_reply(code, message)})" for address, (code, message) in failure.recipients.items()
        )
        words = f"The mail server refused the recipient: {refused}"
    elif isinstance(failure, smtplib.SMTPSenderRefused):
        words = (
            f"The mail server refused the sender address {failure.sender} "
            f"({_reply(failure.smtp_code, failure.smtp_error)})"
        )
    elif isinstance(failure, smtplib.SMTPAuthenticationError):
        words = (
            f"The mail server at {host}:{port} did not accept the configured user name and password "
            f"({_reply(failure.smtp_code, failure.smtp_error)})"
        )
    elif isinstance(failure, smtplib.SMTPNotSupportedError):
        words = f"The mail server at {host}:{port} does not support what the settings ask for ({failure})"
    elif isinstance(failure, smtplib.SMTPDataError):
        words = f"The mail server refused the message ({_reply(failure.smtp_code, failure.smtp_error)})"
    elif isinstance(failure, smtplib.SMTPServerDisconnected):
        words = f"The mail server at {host}:{port} closed the connection"
    elif isinstance(failure, smtplib.SMTPResponseException):
        words = f"The mail server at {host}:{port} answered {_reply(failure.smtp_code, failure.smtp_error)}"
    elif isinstance(failure, ConnectionRefusedError):
        words = f"The mail server at {host}:{port} refused the connection"
    elif isinstance(failure, socket.gaierror):
        words = f"The mail server name {host} could not be found"
    elif isinstance(failure, TimeoutError | socket.timeout):
        words = f"The mail server at {host}:{port} did not answer in time"
    elif isinstance(failure, ssl.SSLError):
        words = f"The secure (TLS) connection to {server} failed: {failure.reason or failure}"
    elif isinstance(failure, OSError):
        words = f"Could not reach {server}: {failure.strerror or failure}"
    else:
        words = f"Sending failed ({type(failure).__name__})"
    return words[:MAX_WORDS]


def is_permanent(failure: BaseException) -> bool:
    """Retrying cannot help: the server refused every recipient for good (5xx)."""
    if isinstance(failure, smtplib.SMTPRecipientsRefused):
        return bool(failure.recipients) and all(code >= 500 for code, _ in failure.recipients.values())
    return False
