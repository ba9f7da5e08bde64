"""Classification of Graph and token error bodies (graph-facts §6, §9.3)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockstep.m365.graph import errors as e
from lockstep.m365.graph.classify import classify, classify_token_error, parse_retry_after

INNER = {"date": "2024-08-20T04:25:57", "request-id": "r-1", "client-request-id": "c-1"}


def body(code: str, message: str, **extra: object) -> str:
    return json.dumps({"error": {"code": code, "message": message, "innerError": INNER, **extra}})


def test_duplicate_upn_is_object_conflict_on_the_property() -> None:
    msg = "Another object with the same value for property userPrincipalName already exists."
    err = classify(
        400,
        body(
            "Request_BadRequest",
            msg,
            details=[{"code": "ObjectConflict", "message": msg, "target": "userPrincipalName"}],
        ),
    )
    assert isinstance(err, e.ObjectConflict)
    assert err.property == "userPrincipalName"
    assert err.kind == "permanent"
    assert err.status == 400 and err.code == "Request_BadRequest"
    assert err.request_id == "r-1" and err.client_request_id == "c-1"
    assert "userPrincipalName" in err.plain_words and "adopt" in err.plain_words


def test_object_conflict_property_from_message_when_details_lack_target() -> None:
    msg = "Another object with the same value for property mailNickname already exists."
    err = classify(400, body("Request_BadRequest", msg, details=[{"code": "ObjectConflict", "message": msg}]))
    assert isinstance(err, e.ObjectConflict) and err.property == "mailNickname"


@pytest.mark.parametrize(
    ("status", "code", "message", "cls"),
    [
        (
            400,
            "Request_BadRequest",
            "The domain portion of the userPrincipalName property is invalid. You must use one of the "
            "verified domain names in your organization.",
            e.InvalidDomain,
        ),
        (
            400,
            "Request_BadRequest",
            "The specified password does not comply with password complexity requirements. Please provide "
            "a different password.",
            e.PasswordPolicyViolation,
        ),
        (400, "Request_BadRequest", "Password cannot contain username.", e.PasswordPolicyViolation),
        (
            400,
            "Request_BadRequest",
            "A password must be specified to create a new user.",
            e.PasswordPolicyViolation,
        ),
        (
            400,
            "Request_BadRequest",
            "One or more added object references already exist for the following modified properties: 'members'.",
            e.AlreadyMember,
        ),
        (
            400,
            "Request_BadRequest",
            "One or more removed object references do not exist for the following modified properties: 'members'.",
            e.NotAMember,
        ),
        (
            400,
            "Request_BadRequest",
            "License assignment cannot be done for user with invalid usage location.",
            e.InvalidUsageLocation,
        ),
        (
            400,
            "Request_BadRequest",
            "Subscription with SKU abc does not have any available licenses.",
            e.NoLicensesAvailable,
        ),
        (
            400,
            "Request_BadRequest",
            "SourceAnchor is a required property for creation of a federated user.",
            e.FederatedDomainRestriction,
        ),
        (
            404,
            "Request_ResourceNotFound",
            "Resource 'x' does not exist or one of its queried reference-property objects are not present.",
            e.NotFound,
        ),
        (
            400,
            "Request_UnsupportedQuery",
            "Unsupported or invalid query filter clause specified for property 'x' of resource 'User'.",
            e.UnsupportedQuery,
        ),
        (400, "Request_BadRequest", "Invalid value specified for property 'displayName'.", e.BadRequest),
        (
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            e.AccessDenied,
        ),
        (401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.", e.InvalidToken),
        (500, "generalException", "General exception while processing", e.ServerError),
        (424, "Request_FailedDependency", "", e.FailedDependency),
    ],
)
def test_classification_by_status_code_and_message(status: int, code: str, message: str, cls: type) -> None:
    err = classify(status, body(code, message))
    assert type(err) is cls
    assert err.plain_words and err.plain_words != e.GraphError.default_plain_words


def test_families() -> None:
    assert issubclass(e.ObjectConflict, e.PermanentForObject)
    assert issubclass(e.Throttled, e.Transient)
    assert issubclass(e.AccessDenied, e.FatalForDirectory)
    assert issubclass(e.ExpiredClientSecret, e.FatalForDirectory)
    assert e.MaybeCommitted.kind == "uncertain"


def test_throttled_with_fractional_retry_after() -> None:
    raw = {
        "error": {
            "code": "TooManyRequests",
            "message": "Please retry again later.",
            "innerError": {
                "code": "429",
                "date": "2024-01-01T00:00:00",
                "message": "Please retry after",
                "request-id": "r",
                "status": "429",
            },
        }
    }
    err = classify(429, raw, {"Retry-After": "2.128"})
    assert isinstance(err, e.Throttled)
    assert err.retry_after == pytest.approx(2.128)
    assert err.kind == "transient"


def test_503_with_retry_after_is_throttled_and_without_is_server_error() -> None:
    assert isinstance(classify(503, None, {"retry-after": "3"}), e.Throttled)
    err = classify(503, b"<html>busy</html>")
    assert type(err) is e.ServerError


def test_delta_reset_cases() -> None:
    gone = classify(410, None, {"Location": "https://g/v1.0/users/delta?$deltatoken="})
    assert isinstance(gone, e.DeltaReset) and gone.location and "deltatoken" in gone.location
    assert isinstance(classify(400, body("syncStateNotFound", "expired")), e.DeltaReset)


def test_retry_after_parsing() -> None:
    assert parse_retry_after("2.128") == pytest.approx(2.128)
    assert parse_retry_after(" 7 ") == 7.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("nan") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)


def test_non_json_bodies_do_not_crash() -> None:
    assert isinstance(classify(400, b"not json"), e.BadRequest)
    assert isinstance(classify(400, b'["a list"]'), e.BadRequest)
    assert isinstance(classify(404, None), e.NotFound)


@pytest.mark.parametrize(
    ("result", "cls"),
    [
        (
            {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
                "error_codes": [7000215],
            },
            e.InvalidClientSecret,
        ),
        (
            {
                "error": "invalid_client",
                "error_description": "AADSTS7000222: The provided client secret keys "
                "for app 'x' are expired.",
                "error_codes": [7000222],
            },
            e.ExpiredClientSecret,
        ),
        (
            {
                "error": "unauthorized_client",
                "error_description": "AADSTS700016: Application with identifier "
                "'x' was not found in the directory 'y'.",
            },
            e.UnknownApplication,
        ),
        (
            {
                "error": "invalid_request",
                "error_description": "AADSTS90002: Tenant 'x' not found.",
                "error_codes": [90002],
            },
            e.UnknownTenant,
        ),
        (
            {
                "error": "invalid_scope",
                "error_description": "AADSTS70011: The provided value for scope is not valid.",
                "error_codes": [70011],
            },
            e.InvalidScope,
        ),
        ({"error": "invalid_scope", "error_description": "scope problem"}, e.InvalidScope),
        (
            {
                "error": "invalid_client",
                "error_description": "AADSTS700027: Client assertion failed signature validation.",
            },
            e.CertificateRejected,
        ),
        ({"error": "weird"}, e.AuthenticationFailed),
    ],
)
def test_token_errors(result: dict[str, object], cls: type) -> None:
    err = classify_token_error(result)
    assert type(err) is cls
    assert err.kind == "fatal"
    assert err.plain_words


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)


@given(
    status=st.integers(min_value=400, max_value=599),
    code=st.text(max_size=30),
    message=st.text(max_size=80),
    details=json_values,
    retry_after=st.none() | st.text(max_size=12),
)
def test_classify_never_crashes_and_families_follow_status(
    status: int, code: str, message: str, details: object, retry_after: str | None
) -> None:
    raw = {"error": {"code": code, "message": message, "details": details}}
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    err = classify(status, raw, headers)
    assert isinstance(err, e.GraphError) and err.plain_words
    if status == 429 or (status >= 500 and not isinstance(err, e.DeltaReset)):
        assert isinstance(err, e.Transient)
    if status in (401, 403) and not isinstance(err, e.DeltaReset):
        assert isinstance(err, e.FatalForDirectory)
