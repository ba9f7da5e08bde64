"""Checking what a caller presents to the simulated Entra: a client secret, a client assertion
signed with a registered certificate (graph-facts §9.3), and a Graph bearer token (`tokens`)."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import TYPE_CHECKING, Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.requests import Request

from m365sim.errors import GraphError
from m365sim.state import AppRegistration, Tenant

if TYPE_CHECKING:
    from m365sim.simulator import Simulator

WWW_AUTH = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)


class TokenError(Exception):
    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.code, self.description = status, error, code, description


def login_base(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def thumbprints(pem: str) -> tuple[str, str]:
    """(x5t, x5t#S256) of a PEM certificate, base64url without padding."""
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(encoding=_der())
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    return b64(hashlib.sha1(der).digest()), b64(hashlib.sha256(der).digest())


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def check_secret(app: AppRegistration, secret: str) -> None:
    match = [s for s in app.secrets if s.secretText == secret]
    if not match:
        raise TokenError(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client "
            f"secret value, not the client secret ID, for a secret added to app '{app.appId}'.",
        )
    if all(s.endDateTime < time.time() for s in match):
        raise TokenError(
            401,
            "invalid_client",
            7000222,
            f"The provided client secret keys for app '{app.appId}' are expired.",
        )


def check_assertion(
    sim: Simulator, t: Tenant, app: AppRegistration, assertion: str, request: Request, name: str
) -> None:
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as err:
        raise TokenError(400, "invalid_request", 50027, "JWT token is invalid or malformed.") from err
    cert = None
    for c in app.certificates:
        x5t, x5t256 = thumbprints(c.pem)
        if (header.get("x5t") or "").rstrip("=") == x5t or (header.get("x5t#S256") or "").rstrip(
            "="
        ) == x5t256:
            cert = c
            break
    if cert is None:
        raise TokenError(
            401,
            "invalid_client",
            700027,
            f"The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{header.get('x5t', '')}']",
        )
    base = login_base(request)
    auds = {f"{base}/{n}/oauth2/v2.0/token" for n in {name, t.id, *t.domains}}
    auds |= {f"{base}/{n}/v2.0" for n in {name, t.id}}
    pub = x509.load_pem_x509_certificate(cert.pem.encode()).public_key()
    if not isinstance(pub, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):  # Entra takes RSA (and EC) keys
        raise TokenError(401, "invalid_client", 700027, "Client assertion failed signature validation.")
    try:
        claims = jwt.decode(
            assertion,
            pub,
            algorithms=["RS256", "PS256", "ES256"],
            audience=list(auds),
            leeway=300,
            options={"require": ["exp", "aud", "iss", "sub"]},
        )
    except jwt.ExpiredSignatureError as err:
        raise TokenError(
            401, "invalid_client", 700024, "Client assertion is not within its valid time range."
        ) from err
    except jwt.InvalidAudienceError as err:
        raise TokenError(
            401,
            "invalid_client",
            700212,
            "No matching federated identity record found for presented assertion audience.",
        ) from err
    except jwt.InvalidSignatureError as err:
        raise TokenError(
            401, "invalid_client", 700027, "Client assertion failed signature validation."
        ) from err
    except jwt.PyJWTError as err:
        raise TokenError(
            401, "invalid_client", 700027, f"Client assertion contains an invalid signature. [{err}]"
        ) from err
    if claims.get("iss") != app.appId or claims.get("sub") != app.appId:
        raise TokenError(
            401,
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        )
    if cert.endDateTime < time.time():
        raise TokenError(
            401, "invalid_client", 700027, "The certificate used to sign the client assertion is expired."
        )


def validate_graph_token(sim: Simulator, authorization: str) -> dict[str, Any]:
    """Claims of a valid Graph bearer token, else GraphError 401 InvalidAuthenticationToken."""

    def fail(msg: str) -> GraphError:
        return GraphError(401, "InvalidAuthenticationToken", msg, headers={"WWW-Authenticate": WWW_AUTH})

    if not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
        raise fail("Access token is empty.")
    token = authorization[7:].strip()
    try:
        claims = jwt.decode(
            token,
            sim.signing_key.public_key(),
            algorithms=["RS256"],
            audience=[sim.settings.graph_audience, "00000003-0000-0000-c000-000000000000"],
            leeway=0,
        )
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError) as err:
        raise fail("Access token has expired or is not yet valid.") from err
    except jwt.InvalidAudienceError as err:
        raise fail("Access token validation failure. Invalid audience.") from err
    except jwt.DecodeError as err:
        if token.count(".") != 2:
            raise fail("IDX14100: JWT is not well formed, there are no dots (.).") from err
        raise fail("Access token validation failure.") from err
    except jwt.PyJWTError as err:
        raise fail("Access token validation failure.") from err
    if str(claims.get("tid")) not in sim.tenants:  # a tenant this server does not serve (any more)
        raise fail("Access token validation failure. Invalid issuer.")
    return claims
