"""Microsoft 365 integration state: directories, bindings, held passwords, import batches."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import timezone

from lockstep.directory.models import Administrator, Group, Organization, User

DEFAULT_MANAGED_ATTRIBUTES = [
    "displayName",
    "givenName",
    "surname",
    "jobTitle",
    "department",
    "businessPhones",
    "mobilePhone",
    "employeeId",
    "usageLocation",
    "accountEnabled",
]


class Cloud(models.TextChoices):
    GLOBAL = "global", "Global (incl. GCC)"
    US_GOV = "us_gov", "US Government (GCC High)"
    US_DOD = "us_dod", "US Government (DoD)"
    CHINA = "china", "China (21Vianet)"
    CUSTOM = "custom", "Custom endpoints (m365sim, proxies)"


class CredentialKind(models.TextChoices):
    SECRET = "secret", "Client secret"
    CERTIFICATE = "certificate", "Certificate"


class Health(models.TextChoices):
    UNKNOWN = "unknown", "Not verified yet"
    OK = "ok", "Healthy"
    DEGRADED = "degraded", "Degraded"
    RED = "red", "Broken"


class Directory(models.Model):
    """One Microsoft 365 integration instance (SPEC 1)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="directories")
    name = models.CharField(max_length=100)
    tenant_id = models.CharField(max_length=100)
    client_id = models.CharField(max_length=100)
    credential_kind = models.CharField(max_length=12, choices=CredentialKind.choices)
    client_secret_encrypted = models.TextField(blank=True, default="")
    certificate_pem = models.TextField(blank=True, default="")
    private_key_encrypted = models.TextField(blank=True, default="")
    cloud = models.CharField(max_length=10, choices=Cloud.choices, default=Cloud.GLOBAL)
    login_base_url = models.CharField(max_length=300, blank=True, default="")
    graph_base_url = models.CharField(max_length=300, blank=True, default="")
    sync_enabled = models.BooleanField(default=True)
    godaddy_override = models.BooleanField(default=False)
    health = models.CharField(max_length=10, choices=Health.choices, default=Health.UNKNOWN)
    health_reason = models.TextField(blank=True, default="")
    # Set while Microsoft 365 cannot be reached (network, DNS, TLS, repeated 5xx); cleared by the
    # next pass that gets an answer. Apart from `health`: sync keeps trying (`m365.reachability`).
    unreachable_since = models.DateTimeField(null=True, blank=True)
    unreachable_reason = models.TextField(blank=True, default="")
    last_sync_at = models.DateTimeField(null=True, blank=True)  # last pass Microsoft 365 answered
    verification = models.JSONField(default=dict, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    # set while a verification runs (verification_runs): counted per organization by every process
    verification_started_at = models.DateTimeField(null=True, blank=True)
    managed_attributes = models.JSONField(default=list, blank=True)
    brake_count = models.PositiveIntegerField(default=10)
    brake_percent = models.PositiveSmallIntegerField(default=5)
    brake_window_minutes = models.PositiveIntegerField(default=10)  # the thresholds apply to any such window
    users_delta_link = models.TextField(blank=True, default="")
    groups_delta_link = models.TextField(blank=True, default="")
    drift_checked_at = models.DateTimeField(null=True, blank=True)  # last drift (delta) round started
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["organization", "name"], name="directory_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def managed(self) -> list[str]:
        return list(self.managed_attributes or DEFAULT_MANAGED_ATTRIBUTES)


class DirectoryDomain(models.Model):
    """A domain of the tenant as last verified; a domain is served by one directory only."""

    directory = models.ForeignKey(Directory, on_delete=models.CASCADE, related_name="domains")
    name = models.CharField(max_length=255)
    is_verified = models.BooleanField(default=False)
    is_default = models.BooleanField(default=False)
    is_initial = models.BooleanField(default=False)
    authentication_type = models.CharField(max_length=20, default="Managed")

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["directory", "name"], name="domain_unique_per_directory"),
        ]


class SyncStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SYNCED = "synced", "Synced"
    WAITING_LOGIN = "waiting_login", "Waiting for first portal login"
    ERROR = "error", "Error"
    NOT_SYNCED = "not_synced", "Not synced"
    HELD = "held", "Held by the deletion brake"
    RESTORE_OFFERED = "restore_offered", "Restore offered (a deleted account matches)"


class BindingBase(models.Model):
    directory = models.ForeignKey(Directory, on_delete=models.CASCADE)
    remote_id = models.CharField(max_length=64, blank=True, default="")
    desired_version = models.PositiveBigIntegerField(default=1)
    applied_version = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.PENDING)
    last_error = models.TextField(blank=True, default="")
    last_error_code = models.CharField(max_length=64, blank=True, default="")
    last_applied = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    retry_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    changed_at = models.DateTimeField(default=timezone.now)  # when desired_version was last bumped
    # Set when a change made by hand to this one object (console, API, a single CLI command) is
    # waiting: claims take it ahead of bulk work (`lanes`); cleared when the binding is claimed.
    interactive_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When Lockstep created, restored or (after a create conflict) found the remote object: for a
    # while after that, Microsoft 365 may still answer 404 for it (replication lag, §12.2).
    remote_created_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class UserBinding(BindingBase):
    """A user bound to a directory; `user` is null once the Lockstep user is deleted
    and only the Microsoft 365 sign-in block remains to be applied."""

    directory = models.ForeignKey(Directory, on_delete=models.CASCADE, related_name="user_bindings")
    user = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="bindings")
    remote_upn = models.CharField(max_length=113, blank=True, default="")
    unbound = models.BooleanField(default=False)  # unbind requested: block sign-in, then forget
    adopted = models.BooleanField(default=False)  # took over an existing account
    password_pending = models.BooleanField(default=False)  # a held password awaits delivery here
    password_synced_at = models.DateTimeField(null=True, blank=True)
    first_sync_notice_pending = models.BooleanField(default=False)
    # The held password expired before it reached this account (cleared by the next hold or delivery).
    password_expired_at = models.DateTimeField(null=True, blank=True)
    import_batch = models.ForeignKey("ImportBatch", null=True, blank=True, on_delete=models.SET_NULL)
    # Soft-deleted (or purged) in Microsoft 365, seen through delta: never written or recreated.
    remote_deleted_at = models.DateTimeField(null=True, blank=True)
    # A soft-deleted account matching the address, offered for restore instead of a create.
    restore_candidate_id = models.CharField(max_length=64, blank=True, default="")
    # An admin rejected a held disable: the account stays enabled while desired_version equals this.
    keep_enabled_version = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["directory", "user"],
                condition=models.Q(user__isnull=False),
                name="user_binding_unique",
            ),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["directory", "remote_id"], name="user_binding_remote"),
            models.Index(fields=["status", "retry_at"], name="user_binding_status"),
        ]


class GroupBinding(BindingBase):
    directory = models.ForeignKey(Directory, on_delete=models.CASCADE, related_name="group_bindings")
    group = models.ForeignKey(Group, null=True, on_delete=models.SET_NULL, related_name="bindings")
    unbound = models.BooleanField(default=False)
    # Lockstep's last membership write: a member list read soon after may not show it yet (§12.2).
    members_written_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["directory", "group"],
                condition=models.Q(group__isnull=False),
                name="group_binding_unique",
            ),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["directory", "remote_id"], name="group_binding_remote"),
        ]


class PendingPassword(models.Model):
    """A user's new password, held encrypted until every binding has delivered it, then erased."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="pending_password")
    ciphertext = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()


class ImportScan(models.Model):
    """One listing of a tenant's users for the import wizard (SPEC 2.2), run as a background job.

    Its candidates are the rows the admin pages through; the newest finished scan of a
    directory is the current one, older scans are deleted when a new one finishes.
    """

    directory = models.ForeignKey(Directory, on_delete=models.CASCADE, related_name="import_scans")
    created_by_label = models.CharField(max_length=254, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=12, default="queued")  # queued, running, done, failed
    pages_done = models.PositiveIntegerField(default=0)
    users_seen = models.PositiveIntegerField(default=0)
    users_total = models.PositiveIntegerField(null=True, blank=True)  # /users/$count, for a progress bar
    admins_found = models.PositiveIntegerField(default=0)
    graph_requests = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")


class ImportCandidate(models.Model):
    """One Microsoft 365 account of a scan, with how it matches Lockstep's users."""

    scan = models.ForeignKey(ImportScan, on_delete=models.CASCADE, related_name="candidates")
    remote_id = models.CharField(max_length=64)
    upn = models.CharField(max_length=113)
    sort_key = models.CharField(max_length=113)  # lower-cased UPN: the keyset order
    mail = models.CharField(max_length=254, blank=True, default="")
    display_name = models.CharField(max_length=256, blank=True, default="")
    licensed = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    admin = models.BooleanField(default=False)  # holds an Entra directory role
    status = models.CharField(max_length=10)  # new, matched, ambiguous, bound
    matched_by = models.CharField(max_length=20, blank=True, default="")  # mail, userPrincipalName, ...
    matched_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(blank=True, default="")
    attributes = models.JSONField(default=dict, blank=True)  # the remote values Lockstep manages

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["scan", "remote_id"], name="import_candidate_unique"),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["scan", "sort_key", "id"], name="import_candidate_order"),
            models.Index(fields=["scan", "status"], name="import_candidate_status"),
        ]


class ImportBatch(models.Model):
    directory = models.ForeignKey(Directory, on_delete=models.CASCADE, related_name="import_batches")
    created_by = models.ForeignKey(Administrator, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=12, default="running")  # running, done, failed, undone
    requested = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created_users = models.PositiveIntegerField(default=0)
    bound_existing = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    scan = models.ForeignKey(ImportScan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    options = models.JSONField(default=dict, blank=True)  # the request: selection, filter, flags, actor
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)


class ImportedAccount(models.Model):
    """What an import batch did with one Microsoft 365 account (the undo works from these)."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="items")
    remote_id = models.CharField(max_length=64)
    upn = models.CharField(max_length=113, blank=True, default="")
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    user_ref = models.BigIntegerField(null=True, blank=True)  # the user's id, kept after deletion
    created_user = models.BooleanField(default=False)  # this batch created the Lockstep user
    # the bound user's own immutable id, replaced by the account's (an undo gives it back)
    replaced_immutable_id = models.CharField(max_length=64, blank=True, default="")
    outcome = models.CharField(max_length=16)  # created, bound, already_bound, skipped, error
    reason = models.TextField(blank=True, default="")
    at = models.DateTimeField(default=timezone.now)
    # the account's values before the takeover (sign-in name, anchor, managed attributes): an undo
    # can put them back
    remote_before = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["batch", "remote_id"], name="imported_account_remote"),
        ]


class ImportRestore(models.Model):
    """An undo's write-back of one account's pre-takeover values, sent by the sync loop.

    `values` are the old values to write back; `written` the values Lockstep had written, so a
    value changed in Microsoft 365 since (by someone else) is left as it is.
    """

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="restores")
    directory = models.ForeignKey(Directory, on_delete=models.CASCADE, related_name="+")
    remote_id = models.CharField(max_length=64)
    upn = models.CharField(max_length=113, blank=True, default="")
    user_ref = models.BigIntegerField(null=True, blank=True)
    values = models.JSONField(default=dict)
    written = models.JSONField(default=dict)
    state = models.CharField(max_length=10, default="pending")  # pending, done, failed
    result = models.TextField(blank=True, default="")  # plain words: what was put back, or why not
    attempts = models.PositiveSmallIntegerField(default=0)
    retry_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)


class HeldWrite(models.Model):
    """A disable or delete held back by the deletion brake until an admin decides."""

    directory = models.ForeignKey(Directory, on_delete=models.CASCADE, related_name="held_writes")
    binding = models.ForeignKey(UserBinding, on_delete=models.CASCADE, related_name="held_writes")
    operation = models.CharField(max_length=20)  # disable, delete
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=10, blank=True, default="")  # approved, rejected, applied
    decided_by = models.CharField(max_length=200, blank=True, default="")


class DestructiveWrite(models.Model):
    """A disable (or delete) the deletion brake let through, counted over its sliding window.

    Written before the write is sent, under a lock on the directory row, so several workers
    never let more through together than the thresholds allow, and removed again if the pass
    pauses before sending it; one row per account (a retried disable of an account already in
    the window goes out again without a new row: `brake_window.admit`).
    """

    directory = models.ForeignKey(Directory, on_delete=models.CASCADE, related_name="destructive_writes")
    remote_id = models.CharField(max_length=100)
    operation = models.CharField(max_length=20, default="disable")  # disable, delete
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["directory", "at"], name="destructive_write_recent"),
        ]


class GraphBudget(models.Model):
    """The per-tenant Graph budget shared by every worker: two token buckets in the database,
    resource units and writes, plus a pause after a 429."""

    tenant_id = models.CharField(max_length=100, unique=True)
    resource_units = models.FloatField(default=0)
    writes = models.FloatField(default=0)
    refilled_at = models.FloatField(default=0)  # epoch seconds
    blocked_until = models.FloatField(default=0)  # epoch seconds
    used_units = models.FloatField(default=0)  # lifetime counters, for health and benchmarks
    used_writes = models.FloatField(default=0)


class SyncActivity(models.Model):
    """Per-minute counters of Microsoft 365 writes and errors, for the dashboard chart."""

    directory = models.ForeignKey(Directory, on_delete=models.CASCADE, related_name="activity")
    minute = models.DateTimeField()
    writes = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["directory", "minute"], name="activity_unique_minute"),
        ]
