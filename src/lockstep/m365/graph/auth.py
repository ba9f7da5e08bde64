"""App-only access tokens through msal (client secret or certificate), cached in memory.

One msal `ConfidentialClientApplication` (and so one token cache) per (authority, client id,
credential, CA bundle) per process, shared by every `GraphClient` built for that directory.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, Protocol

import jwt
import msal
import msal.exceptions
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .classify import classify_token_error
from .clouds import Cloud
from .connection import CertificateCredential, DirectoryConnection
from .errors import (
    AuthenticationFailed,
    CertificateRejected,
    ConnectionFailed,
    Transient,
    UnknownTenant,
)


class TokenSource(Protocol):
    """Gives bearer tokens; `invalidate` drops a cached token Graph has refused."""

    def token(self) -> str: ...

    def invalidate(self) -> None: ...


class _PinnedCASession(requests.Session):
    """A requests session whose CA bundle wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.

    requests lets those environment variables override `Session.verify`; for a directory with its
    own CA file (m365sim, a TLS-inspecting proxy) that would silently use the wrong bundle. Proxy
    settings from the environment are still honoured.
    """

    def __init__(self, ca_file: str | None, timeout: float) -> None:
        super().__init__()
        self._ca_file = ca_file
        self._timeout = timeout
        if ca_file:
            self.verify = ca_file

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self._ca_file:
            settings["verify"] = self._ca_file
        return settings

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", LOGIN_TIMEOUT.get() or self._timeout)
        return super().request(method, url, *args, **kwargs)


# A shorter timeout for the login requests made in this context (a directory verification's
# thread), without a second msal app: the verification and the sync loop share the token cache.
LOGIN_TIMEOUT: ContextVar[float | None] = ContextVar("lockstep_login_timeout", default=None)

_TRANSIENT_TOKEN_ERRORS = {"temporarily_unavailable", "server_error", "http_error"}

_apps: dict[tuple[str, ...], msal.ConfidentialClientApplication] = {}
_sessions: dict[tuple[str, ...], requests.Session] = {}
_key_locks: dict[tuple[str, ...], threading.Lock] = {}
_apps_lock = threading.Lock()


def clear_app_cache() -> None:
    """Forget every msal application (and its tokens, closing its connections); for tests and rotation."""
    with _apps_lock:
        _apps.clear()
        for session in _sessions.values():
            session.close()
        _sessions.clear()
        _key_locks.clear()


class MsalTokenSource:
    """Client-credentials tokens for one directory, from msal's in-memory cache when still valid."""

    def __init__(self, connection: DirectoryConnection, *, timeout: float = 30.0) -> None:
        self.connection = connection
        self.cloud: Cloud = connection.resolved_cloud()
        self.authority = self.cloud.authority(connection.tenant_id)
        self.timeout = timeout
        self.tokens_fetched = 0  # tokens that came from the login endpoint, not the cache
        self._key = (
            self.authority,
            connection.client_id,
            connection.credential_key(),
            connection.ca_file or "",
            self.cloud.scope,
        )

    def _lock(self) -> threading.Lock:
        with _apps_lock:
            return _key_locks.setdefault(self._key, threading.Lock())

    def _app(self) -> msal.ConfidentialClientApplication:
        """The shared msal app for this key, built (with its network discovery) under a per-key lock
        so that a slow login host for one directory never holds up the others."""
        with _apps_lock:
            app = _apps.get(self._key)
        if app is not None:
            return app
        with self._lock():
            with _apps_lock:
                app = _apps.get(self._key)
            if app is not None:
                return app
            session = _PinnedCASession(self.connection.ca_file, self.timeout)
            try:
                app = self._build_app(session)
            except Exception:
                session.close()
                raise
            with _apps_lock:
                _apps[self._key] = app
                _sessions[self._key] = session
            return app

    def _build_app(self, session: requests.Session) -> msal.ConfidentialClientApplication:
        conn = self.connection
        credential: Any = (
            conn.client_secret if conn.client_secret else conn.certificate.msal_credential()  # type: ignore[union-attr]
        )
        if conn.certificate is not None:
            check_certificate(conn.certificate)
        microsoft = self.cloud.is_microsoft
        try:
            return msal.ConfidentialClientApplication(
                conn.client_id,
                client_credential=credential,
                authority=self.authority,
                # Instance discovery asks login.microsoftonline.com about the host: useless (and
                # failing) for an emulator or any non-Microsoft login host.
                instance_discovery=None if microsoft else False,
                validate_authority=microsoft,
                http_client=session,
                token_cache=msal.TokenCache(),
            )
        except ValueError as exc:
            text = str(exc)
            if "OIDC" in text or "authority" in text.lower() or "tenant" in text.lower():
                raise UnknownTenant(
                    text,
                    code="invalid_tenant",
                    plain_words=(
                        f"No Microsoft 365 tenant '{conn.tenant_id}' was found at {self.cloud.login_base}: "
                        "check the tenant id and the cloud."
                    ),
                ) from exc
            raise AuthenticationFailed(text, code="invalid_credential_format") from exc
        except (requests.RequestException, OSError) as exc:
            raise ConnectionFailed(f"login endpoint unreachable: {exc}") from exc
        except msal.exceptions.MsalServiceError as exc:
            raise Transient(f"login endpoint error: {exc}") from exc

    def token(self) -> str:
        app = self._app()
        try:
            with self._lock():  # one login request per app at a time; cache hits are microseconds
                result: Mapping[str, Any] | None = app.acquire_token_for_client(scopes=[self.cloud.scope])
        except (requests.RequestException, OSError) as exc:
            raise ConnectionFailed(f"login endpoint unreachable: {exc}") from exc
        except msal.exceptions.MsalServiceError as exc:  # msal raises on 5xx/429 from the login endpoint
            raise Transient(f"login endpoint error: {exc}") from exc
        except jwt.PyJWTError as exc:  # signing the client assertion failed: the key is unusable
            raise AuthenticationFailed(
                f"could not sign the client assertion: {exc}",
                code="invalid_private_key",
                plain_words=_BAD_KEY_WORDS,
            ) from exc
        except ValueError as exc:  # a non-JSON answer from the login endpoint
            raise Transient(f"unexpected answer from the login endpoint: {exc}") from exc
        if not result or "access_token" not in result:
            if result and result.get("error") in _TRANSIENT_TOKEN_ERRORS:
                raise Transient(str(result.get("error_description") or result.get("error")))
            raise classify_token_error(result or {"error": "no_token"})
        if result.get("token_source") == "identity_provider":
            self.tokens_fetched += 1
        return str(result["access_token"])

    def invalidate(self) -> None:
        with _apps_lock:
            app = _apps.get(self._key)
        if app is None:
            return
        cache = app.token_cache
        for item in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            cache.remove_at(item)


_BAD_KEY_WORDS = (
    "The private key stored for this directory cannot be read (wrong format or passphrase): "
    "generate or upload the certificate and its key again."
)


def check_certificate(cred: CertificateCredential) -> None:
    """Raise a typed error when the private key cannot be loaded or does not match the certificate."""
    try:
        key = serialization.load_pem_private_key(
            cred.private_key_pem.encode(), password=cred.passphrase.encode() if cred.passphrase else None
        )
    except (ValueError, TypeError) as exc:
        raise AuthenticationFailed(
            f"private key unreadable: {exc}", code="invalid_private_key", plain_words=_BAD_KEY_WORDS
        ) from exc
    if cred.certificate_pem:
        try:
            cert = x509.load_pem_x509_certificate(cred.certificate_pem.encode())
        except ValueError as exc:
            raise AuthenticationFailed(
                f"certificate unreadable: {exc}",
                code="invalid_certificate",
                plain_words="The certificate stored for this directory is not a valid PEM certificate: upload it again.",
            ) from exc
        spki = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        if cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
            raise CertificateRejected(
                "the private key does not belong to the certificate",
                code="key_certificate_mismatch",
                plain_words=(
                    "The private key does not belong to the certificate configured for this directory: "
                    "upload the matching pair."
                ),
            )


class StaticTokenSource:
    """A fixed token (tests, or a token obtained elsewhere)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token

    def invalidate(self) -> None:
        return None
