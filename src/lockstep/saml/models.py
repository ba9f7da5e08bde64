"""SAML state: the organization's signing keys, each federated domain, test sign-ins and the
AuthnRequest ids already answered (replay protection)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import timezone

from lockstep.directory.models import Organization, User
from lockstep.m365.models import Directory


class KeyStatus(models.TextChoices):
    NEXT = "next", "Next (published, not yet signing)"
    ACTIVE = "active", "Active (signing)"
    RETIRED = "retired", "Retired"


class SigningKey(models.Model):
    """An RSA key pair and its self-signed certificate; the private key is encrypted at rest.

    An organization has at most one ACTIVE key (it signs every assertion) and at most one NEXT
    key (published to Microsoft 365 as `nextSigningCertificate`, then promoted)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="saml_keys")
    certificate_pem = models.TextField()
    private_key_encrypted = models.TextField()
    fingerprint = models.CharField(max_length=64)  # SHA-256 of the certificate's DER, hex
    status = models.CharField(max_length=10, choices=KeyStatus.choices)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["organization"], condition=models.Q(status="active"), name="saml_one_active_key"
            ),
            models.UniqueConstraint(
                fields=["organization"], condition=models.Q(status="next"), name="saml_one_next_key"
            ),
        ]


class FederationState(models.TextChoices):
    FEDERATED = "federated", "Federated"
    ROLLED_BACK = "rolled_back", "Rolled back (managed)"
    FAILED = "failed", "Failed"


class DomainFederation(models.Model):
    """One domain of a directory federated (or once federated) with Lockstep as its IdP."""

    directory = models.ForeignKey(Directory, on_delete=models.CASCADE, related_name="federations")
    domain = models.CharField(max_length=255)  # lower case
    issuer_uri = models.CharField(max_length=500)  # fixed at the first federation: Microsoft matches it
    remote_id = models.CharField(max_length=100, blank=True, default="")  # internalDomainFederation id
    state = models.CharField(max_length=12, choices=FederationState.choices)
    require_signed_requests = models.BooleanField(default=False)
    published_key = models.ForeignKey(
        SigningKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )  # as signingCertificate
    published_next_key = models.ForeignKey(
        SigningKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )  # as nextSigningCertificate
    changed_at = models.DateTimeField(default=timezone.now)  # last change sent to Microsoft 365
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["directory", "domain"], name="saml_federation_per_domain"),
        ]


class FederationTest(models.Model):
    """A test sign-in: an assertion built for a user of the domain, checked locally and against
    the account in Microsoft 365. Readiness needs a passing one with the active key."""

    directory = models.ForeignKey(Directory, on_delete=models.CASCADE, related_name="federation_tests")
    domain = models.CharField(max_length=255)
    user = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    passed = models.BooleanField()
    problems = models.JSONField(default=list, blank=True)  # plain sentences
    key_fingerprint = models.CharField(max_length=64, blank=True, default="")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar[list[Any]] = [models.Index(fields=["directory", "domain", "-at"])]


class AnsweredRequest(models.Model):
    """An AuthnRequest id already answered: a second use is a replay and is refused."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    request_id = models.CharField(max_length=256)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["organization", "request_id"], name="saml_request_once"),
        ]
        indexes: ClassVar[list[Any]] = [models.Index(fields=["at"])]
