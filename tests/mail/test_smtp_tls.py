"""STARTTLS, implicit TLS and SMTP credentials against a real aiosmtpd server with its own CA."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from lockstep.directory.models import Organization
from lockstep.mail import delivery, outbox
from lockstep.mail.models import EmailKind, EmailStatus, OutboundEmail
from lockstep.testing.smtp import Mailbox, _free_port
from m365sim.pki import ensure_tls

USER, PASSWORD = "relay@contoso.com", "Sm7p-Relay-Pa55"

# aiosmtpd warns that AUTH without STARTTLS is unsafe; on the implicit-TLS port everything is TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return ensure_tls(tmp_path_factory.mktemp("smtp-pki"))


def server_context(pki: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert_file, pki.key_file)
    return context


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_server(pki: Any, request: pytest.FixtureRequest, settings: Any) -> Iterator[Mailbox]:
    """`starttls` (a plain port that upgrades, credentials required) or `tls` (TLS from the start)."""
    mode = request.param
    mailbox = Mailbox()
    options: dict[str, Any] = {"authenticator": authenticate, "auth_required": True}
    if mode == "starttls":
        options |= {"tls_context": server_context(pki), "require_starttls": True}
    else:
        options |= {"ssl_context": server_context(pki), "auth_require_tls": False}
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port(), **options)
    controller.start()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL = mode == "starttls", mode == "tls"
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = USER, PASSWORD
    settings.TRUSTED_CA_FILE = str(pki.ca_file)
    try:
        yield mailbox
    finally:
        controller.stop()


def queue(org: Organization) -> OutboundEmail:
    return outbox.send(organization=org, kind=EmailKind.TEST, to="adele@contoso.com", context={})


@pytest.mark.parametrize("tls_server", ["starttls", "tls"], indirect=True)
def test_sends_over_tls_with_credentials(org: Organization, tls_server: Mailbox) -> None:
    queue(org)
    assert delivery.drain() == 1
    assert len(tls_server.wait_for("adele@contoso.com")) == 1


@pytest.mark.parametrize("tls_server", ["starttls"], indirect=True)
def test_wrong_credentials_are_told_in_words_without_the_password(
    org: Organization, tls_server: Mailbox, settings: Any
) -> None:
    settings.EMAIL_HOST_PASSWORD = "Not-The-Pa55word"
    email = queue(org)
    assert delivery.drain() == 0
    email.refresh_from_db()
    assert email.status == EmailStatus.RETRYING
    assert email.last_error.startswith(
        f"The mail server at 127.0.0.1:{settings.EMAIL_PORT} did not accept the configured user name and password"
    )
    assert "Not-The-Pa55word" not in email.last_error


@pytest.mark.parametrize("tls_server", ["tls"], indirect=True)
def test_an_untrusted_certificate_is_refused_in_words(
    org: Organization, tls_server: Mailbox, settings: Any, tmp_path: Path
) -> None:
    settings.TRUSTED_CA_FILE = ""  # only the system CAs: the test CA is unknown
    email = queue(org)
    assert delivery.drain() == 0
    email.refresh_from_db()
    assert email.last_error.startswith(
        f"The secure (TLS) connection to the mail server at 127.0.0.1:{settings.EMAIL_PORT} failed"
    )
    assert "CERTIFICATE_VERIFY_FAILED" in email.last_error
    assert tls_server.messages == []
