"""Every kind of email renders a subject, a text part and an HTML part with the organization's branding."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from lockstep.directory.models import Organization
from lockstep.mail.models import EmailKind
from lockstep.mail.rendering import DEFAULT_BRAND_COLOR, branding_of, render

WHEN = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script> & Sons'
CONTEXTS: dict[EmailKind, dict[str, Any]] = {
    EmailKind.ACTIVATION: {"link": "https://id.example.com/portal/activate/tok123/", "expires_at": WHEN},
    EmailKind.WELCOME: {"portal_url": "https://id.example.com/portal/?org=contoso-ltd", "username": "adele"},
    EmailKind.ADDED_TO_DIRECTORY: {
        "directory_name": "Contoso EU",
        "portal_url": "https://id.example.com/portal/",
    },
    EmailKind.PASSWORD_RESET: {
        "link": "https://id.example.com/portal/reset/tok456/",
        "expires_at": WHEN,
        "directory_name": "",
    },
    EmailKind.PASSWORD_CHANGED: {
        "portal_url": "https://id.example.com/portal/",
        "changed_at": WHEN,
        "how": "admin",
    },
    EmailKind.TEST: {},
}


@pytest.fixture
def branded(org: Organization) -> Organization:
    org.email_sender_name = "Contoso IT"
    org.email_sender_address = "it@contoso.com"
    org.email_brand_color = "#AA3300"
    org.email_footer = "Contoso Ltd, 1 Main Street, Springfield"
    org.save()
    return org


def test_every_kind_has_a_context_here() -> None:
    assert set(CONTEXTS) == set(EmailKind)


@pytest.mark.parametrize("kind", list(EmailKind))
def test_every_kind_renders_both_parts_with_the_branding(kind: EmailKind, branded: Organization) -> None:
    rendered = render(organization=branded, kind=kind, context={"user_name": "Adele Vance", **CONTEXTS[kind]})
    assert rendered.subject and "\n" not in rendered.subject
    assert "Contoso Ltd" in rendered.subject
    for part in (rendered.text, rendered.html):
        assert "Adele Vance" in part
        assert "Contoso Ltd, 1 Main Street, Springfield" in part
    assert "background:#AA3300" in rendered.html
    assert rendered.html.lstrip().startswith("<!DOCTYPE html>")
    assert "<" not in rendered.text  # the text part is plain
    for value in CONTEXTS[kind].values():
        if isinstance(value, str) and value:
            assert value in rendered.text, (kind, value)
            assert value in rendered.html, (kind, value)
    if "expires_at" in CONTEXTS[kind]:
        assert "8 December 2026, 09:30 UTC" in rendered.text


def test_user_values_are_escaped_in_html_and_plain_in_text(branded: Organization) -> None:
    branded.name = "Contoso <b>Ltd</b>"
    branded.email_footer = "<img src=x onerror=alert(1)>\nsecond line"
    branded.save()
    context = {"user_name": HOSTILE, "directory_name": HOSTILE, "portal_url": "https://id.example.com/"}
    rendered = render(organization=branded, kind=EmailKind.ADDED_TO_DIRECTORY, context=context)
    assert "<script>" not in rendered.html and "<img" not in rendered.html and "<b>" not in rendered.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Sons" in rendered.html
    assert "&lt;img src=x onerror=alert(1)&gt;<br>second line" in rendered.html
    assert HOSTILE in rendered.text  # plain text: no entities
    assert "&amp;" not in rendered.text and "&lt;" not in rendered.text
    assert HOSTILE in rendered.subject


def test_password_changed_says_how(org: Organization) -> None:
    words = {
        "admin": "An administrator set a new password",
        "reset": "reset with an emailed link",
        "activation": "activated your account",
        "change": "You changed your password",
    }
    for how, expected in words.items():
        context = {**CONTEXTS[EmailKind.PASSWORD_CHANGED], "how": how}
        rendered = render(organization=org, kind=EmailKind.PASSWORD_CHANGED, context=context)
        assert expected in rendered.text and expected in rendered.html, how


def test_a_reset_for_a_directory_names_it(org: Organization) -> None:
    context = {**CONTEXTS[EmailKind.PASSWORD_RESET], "directory_name": "Contoso EU"}
    rendered = render(organization=org, kind=EmailKind.PASSWORD_RESET, context=context)
    assert "added to Contoso EU" in rendered.text
    plain = render(
        organization=org, kind=EmailKind.PASSWORD_RESET, context=CONTEXTS[EmailKind.PASSWORD_RESET]
    )
    assert "asked to reset" in plain.text and "added to" not in plain.text


def test_without_branding_the_defaults_apply(org: Organization, settings: Any) -> None:
    settings.DEFAULT_FROM_EMAIL = "Lockstep <noreply@lockstep.example>"
    brand = branding_of(org)
    assert brand.from_header == "Contoso Ltd <noreply@lockstep.example>"
    assert brand.brand_color == DEFAULT_BRAND_COLOR
    rendered = render(organization=org, kind=EmailKind.TEST, context={})
    assert f"background:{DEFAULT_BRAND_COLOR}" in rendered.html
    assert "Hello," in rendered.text


def test_a_sender_name_with_special_characters_is_quoted(org: Organization) -> None:
    org.email_sender_name = 'Contoso, "IT"'
    org.email_sender_address = "it@contoso.com"
    assert branding_of(org).from_header == '"Contoso, \\"IT\\"" <it@contoso.com>'


@pytest.mark.parametrize(
    ("color", "text"), [("#1F4E79", "#ffffff"), ("#FFEE00", "#000000"), ("#000000", "#ffffff")]
)
def test_text_on_the_brand_colour_stays_readable(org: Organization, color: str, text: str) -> None:
    org.email_brand_color = color
    assert branding_of(org).text_color == text
    html = render(organization=org, kind=EmailKind.TEST, context={}).html
    assert f"background:{color};color:{text};" in html
