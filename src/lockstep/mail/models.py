"""The outbox: every email Lockstep sends is a row first, drained by the worker (SPEC 3).

A row is written inside the transaction that decided to send it, so a rolled-back change
sends nothing, and a mail server outage loses nothing: the row waits and is retried with
backoff, its status visible to admins. Bodies carry single-use links, so they are encrypted at
rest and erased once the message is sent.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import timezone

from lockstep.directory.models import Organization, User


class EmailKind(models.TextChoices):
    ACTIVATION = "activation", "Activation"
    WELCOME = "welcome", "Welcome"
    ADDED_TO_DIRECTORY = "added_to_directory", "Added to a directory"
    PASSWORD_RESET = "password_reset", "Password reset"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    TEST = "test", "Test message"


class EmailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RETRYING = "retrying", "Retrying"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # gave up after the last attempt; an admin can send it again


class OutboundEmail(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="emails")
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails")
    kind = models.CharField(max_length=24, choices=EmailKind.choices)
    to_address = models.CharField(max_length=254)
    from_address = models.CharField(max_length=320)  # "Sender Name <address>"
    subject = models.CharField(max_length=300)
    body_encrypted = models.TextField(blank=True, default="")  # text and HTML parts; erased once sent
    status = models.CharField(max_length=12, choices=EmailStatus.choices, default=EmailStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)  # a worker is sending it

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["status", "next_attempt_at"], name="email_due"),
            models.Index(fields=["user", "-created_at"], name="email_user_latest"),
            models.Index(fields=["organization", "-created_at"], name="email_org_latest"),
        ]
