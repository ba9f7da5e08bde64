"""The User Portal's state: emailed links, recovery codes, sign-in throttling (SPEC 3, 4)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import timezone

from lockstep.directory.models import Organization, User


class LinkPurpose(models.TextChoices):
    ACTIVATION = "activation", "Activation"
    PASSWORD_RESET = "password_reset", "Password reset"


class EmailedLink(models.Model):
    """A single-use link sent by email. Only the token's SHA-256 is stored; the link carries
    only the token."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="emailed_links")
    purpose = models.CharField(max_length=20, choices=LinkPurpose.choices)
    token_sha256 = models.CharField(max_length=64, unique=True)
    directory_id = models.BigIntegerField(null=True, blank=True)  # a reset sent for one directory
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class RecoveryCode(models.Model):
    """One MFA recovery code of a user, stored as a hash; each works once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)


class ThrottleScope(models.TextChoices):
    ACCOUNT = "account", "Account"
    SOURCE = "source", "Client address"


class SignInThrottle(models.Model):
    """Failed User Portal sign-ins counted per account and per client address; a lock an admin
    can see and clear."""

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="sign_in_throttles"
    )
    scope = models.CharField(max_length=10, choices=ThrottleScope.choices)
    key = models.CharField(max_length=254)  # the user id (account) or the client address (source)
    label = models.CharField(max_length=254, blank=True, default="")  # what admins see
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["scope", "key"], name="sign_in_throttle_unique"),
        ]


class TotpCounter(models.Model):
    """The last TOTP time step a user signed in with: a code is accepted at most once."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="portal_totp_counter")
    last_counter = models.BigIntegerField(default=0)

    # Declared for mypy: its Django plugin loads the installed checkout's models.
    objects: ClassVar[models.Manager[TotpCounter]] = models.Manager()
