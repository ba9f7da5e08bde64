"""Forms of Settings, Email: the organization's email branding and the test email."""

from __future__ import annotations

from django import forms

from lockstep.console.forms import ConsoleForm
from lockstep.mail.models import EmailStatus

BRANDING_FIELDS = ("email_sender_name", "email_sender_address", "email_brand_color", "email_footer")


class EmailBrandingForm(ConsoleForm):
    """Checked by the organization service (it names the field and the rule)."""

    email_sender_name = forms.CharField(
        label="Sender name", required=False, help_text="Empty: the organization's name."
    )
    email_sender_address = forms.CharField(
        label="Sender address",
        required=False,
        help_text="Empty: the server's default sender. Your mail server must allow sending as this address.",
    )
    email_brand_color = forms.CharField(
        label="Brand colour",
        required=False,
        help_text="The band atop each email, written #RRGGBB (e.g. #1F4E79). Empty: Lockstep's blue.",
    )
    email_footer = forms.CharField(
        label="Footer line",
        required=False,
        help_text="Plain text at the foot of each email, e.g. your address.",
    )


class TestEmailForm(ConsoleForm):
    to = forms.EmailField(label="Send a test email to", max_length=254)


class OutboxFilterForm(forms.Form):
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "All"), *EmailStatus.choices])
