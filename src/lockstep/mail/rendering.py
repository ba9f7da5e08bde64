"""Render an email of one kind: subject, text part and HTML part, with the organization's branding.

Templates live in `templates/mail/`: `<kind>.subject.txt`, `<kind>.txt` and `<kind>.html`. The HTML
part is rendered with autoescaping (names and addresses come from users); the subject and the text
part are rendered without it (plain text needs no entities) and the subject is folded to one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formataddr
from typing import Any

from django.conf import settings
from django.template import Context
from django.template.loader import get_template

from lockstep.directory.models import Organization
from lockstep.mail.models import EmailKind

DEFAULT_BRAND_COLOR = "#1f4e79"
COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
SUBJECT_MAX = 300


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Branding:
    organization_name: str
    sender_name: str
    sender_address: str
    brand_color: str
    footer: str

    @property
    def text_color(self) -> str:
        """Black or white, whichever reads better on the brand colour (WCAG relative luminance)."""
        channels = [int(self.brand_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
        return "#000000" if luminance > 0.179 else "#ffffff"

    @property
    def from_header(self) -> str:
        """`"Sender Name" <address>`, quoted as RFC 5322 needs."""
        return formataddr((self.sender_name, self.sender_address))


def branding_of(organization: Organization) -> Branding:
    color = organization.email_brand_color
    return Branding(
        organization_name=organization.name,
        sender_name=(organization.email_sender_name or organization.name)
        .replace("\r", " ")
        .replace("\n", " "),
        sender_address=organization.email_sender_address or _address_of(settings.DEFAULT_FROM_EMAIL),
        brand_color=color if COLOR.match(color or "") else DEFAULT_BRAND_COLOR,
        footer=organization.email_footer,
    )


def _address_of(value: str) -> str:
    """The bare address of DEFAULT_FROM_EMAIL, which may read `Name <address>`."""
    match = re.search(r"<([^>]+)>", value)
    return (match.group(1) if match else value).strip()


def render(*, organization: Organization, kind: EmailKind | str, context: dict[str, Any]) -> Rendered:
    kind = EmailKind(kind)
    brand = branding_of(organization)
    values = {"user_name": "", **context, "organization": organization, "brand": brand}
    subject = _render_plain(f"mail/{kind.value}.subject.txt", values)
    return Rendered(
        subject=" ".join(subject.split())[:SUBJECT_MAX],
        text=_tidy(_render_plain(f"mail/{kind.value}.txt", values)),
        html=get_template(f"mail/{kind.value}.html").render(values),
    )


def _render_plain(name: str, values: dict[str, Any]) -> str:
    template = get_template(name)
    return str(template.template.render(Context(values, autoescape=False)))  # type: ignore[attr-defined]


def _tidy(text: str) -> str:
    """No runs of blank lines left by template tags; one newline at the end."""
    return re.sub(r"\n{3,}", "\n\n", text.strip()) + "\n"
