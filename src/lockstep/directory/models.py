"""Core directory models (SPEC section 1)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models.functions import Concat, Lower, StrIndex, Substr
from django.utils import timezone

# Limits no looser than Microsoft Graph's (graph-facts §1.3).
DISPLAY_NAME_MAX = 256
GIVEN_NAME_MAX = 64
SURNAME_MAX = 64
JOB_TITLE_MAX = 128
DEPARTMENT_MAX = 64
EMPLOYEE_ID_MAX = 16
PHONE_MAX = 64
USERNAME_MAX = 64
EMAIL_MAX = 113  # a UPN is at most 113 characters
GROUP_NAME_MAX = 256


class Organization(models.Model):
    """A tenant of Lockstep; nothing ever crosses between organizations."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Settings (SPEC 3, 5)
    password_takeover = models.BooleanField(default=True)
    require_admin_mfa = models.BooleanField(default=False)
    password_min_length = models.PositiveSmallIntegerField(default=8)
    password_min_classes = models.PositiveSmallIntegerField(default=3)
    password_banned_terms = models.TextField(blank=True, default="")
    email_sender_name = models.CharField(max_length=200, blank=True, default="")
    email_sender_address = models.EmailField(blank=True, default="")
    # Email branding (SPEC 3): a colour for the header band and a line under every message.
    email_brand_color = models.CharField(max_length=7, blank=True, default="")  # "#RRGGBB"
    email_footer = models.CharField(max_length=500, blank=True, default="")
    # User Portal self-service (SPEC 4): the attributes a user may edit, comma-separated names.
    portal_editable_fields = models.CharField(max_length=300, blank=True, default="")

    def __str__(self) -> str:
        return self.name


class AdministratorManager(BaseUserManager["Administrator"]):
    def get_by_natural_key(self, username: str | None) -> Administrator:
        """Only for Django's own tooling; sign-in goes through `console.admin_backend`, since
        one email may administer several organizations."""
        return self.get(email__iexact=username)


class AdminRole(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMINISTRATOR = "administrator", "Administrator"
    READ_ONLY = "read_only", "Read-only"


class Administrator(AbstractBaseUser):
    """A person who signs in to the Admin Portal (never a directory user)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="administrators")
    # unique per organization, not per deployment: adding an administrator never reveals that an
    # address administers another organization (`console.admin_backend` signs in by email)
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200, blank=True, default="")
    role = models.CharField(max_length=20, choices=AdminRole.choices, default=AdminRole.ADMINISTRATOR)
    is_active = models.BooleanField(default=True)
    totp_secret_encrypted = models.TextField(blank=True, default="")
    totp_enabled = models.BooleanField(default=False)
    totp_last_counter = models.BigIntegerField(default=0)  # replay protection
    must_change_password = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = AdministratorManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "email"], name="administrator_email_per_organization"
            )
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def can_write(self) -> bool:
        return self.role in (AdminRole.OWNER, AdminRole.ADMINISTRATOR)

    def get_session_auth_hash(self) -> str:
        """Sessions hold this hash; when it changes every other session ends. Django's covers
        the password; this one also covers the second factor and the active flag, so turning
        on (or replacing) the authenticator app or a deactivation ends the other sessions."""
        from django.utils.crypto import salted_hmac

        return salted_hmac(
            "lockstep.directory.Administrator.session",
            f"{self.password}:{self.totp_secret_encrypted}:{self.is_active}",
            algorithm="sha256",
        ).hexdigest()


class UserState(models.TextChoices):
    STAGED = "staged", "Staged"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


# Explicit transitions (SPEC 1): from -> allowed targets.
ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    UserState.STAGED: (UserState.ACTIVE, UserState.SUSPENDED),
    UserState.ACTIVE: (UserState.SUSPENDED,),
    UserState.SUSPENDED: (UserState.ACTIVE,),
}


class PasswordSetup(models.TextChoices):
    """What the admin chose in Manual user entry's Password Settings."""

    INITIAL = "initial", "Initial password specified by an administrator"
    ACTIVATION = "activation", "Send an activation email later"


class IssuedImmutableId(models.Model):
    """Every immutable id ever issued; rows are never deleted, so an id is never reused."""

    value = models.CharField(max_length=64, unique=True)
    issued_at = models.DateTimeField(default=timezone.now)


def _joined(*fields: str) -> list[Any]:
    """The fields with a line break between them, so a search never matches across two of them."""
    parts: list[Any] = []
    for field in fields:
        parts += [models.Value("\n"), field] if parts else [field]
    return parts


class User(models.Model):
    """A managed identity (SPEC 1)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="users")
    username = models.CharField(max_length=USERNAME_MAX)
    email = models.CharField(max_length=EMAIL_MAX)  # company (primary) email, stored lower-case
    alternate_email = models.CharField(max_length=254, blank=True, default="")
    first_name = models.CharField(max_length=GIVEN_NAME_MAX, blank=True, default="")
    last_name = models.CharField(max_length=SURNAME_MAX, blank=True, default="")
    display_name = models.CharField(max_length=DISPLAY_NAME_MAX)
    job_title = models.CharField(max_length=JOB_TITLE_MAX, blank=True, default="")
    department = models.CharField(max_length=DEPARTMENT_MAX, blank=True, default="")
    business_phone = models.CharField(max_length=PHONE_MAX, blank=True, default="")
    mobile_phone = models.CharField(max_length=PHONE_MAX, blank=True, default="")
    employee_id = models.CharField(max_length=EMPLOYEE_ID_MAX, blank=True, default="")
    usage_location = models.CharField(max_length=2, blank=True, default="")
    state = models.CharField(max_length=12, choices=UserState.choices, default=UserState.STAGED)
    password_hash = models.CharField(max_length=255, blank=True, default="")
    password_changed_at = models.DateTimeField(null=True, blank=True)
    password_setup = models.CharField(
        max_length=12, choices=PasswordSetup.choices, default=PasswordSetup.ACTIVATION
    )
    immutable_id = models.CharField(max_length=64, unique=True, editable=False)
    totp_secret_encrypted = models.TextField(blank=True, default="")
    totp_enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Computed by the database on every write (bulk ones included): what the Users search matches
    # inside (`directory.search_index`), and the company email's domain for the domain filter.
    search_text = models.GeneratedField(
        expression=Lower(Concat(*_joined("username", "display_name", "first_name", "last_name", "email"))),
        output_field=models.TextField(),
        db_persist=True,
    )
    email_domain = models.GeneratedField(
        expression=Substr("email", StrIndex("email", models.Value("@")) + 1),
        output_field=models.CharField(max_length=EMAIL_MAX),
        db_persist=True,
    )

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["organization", "username"], name="user_unique_username"),
            models.UniqueConstraint(fields=["organization", "email"], name="user_unique_email"),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["organization", "state", "username"], name="user_org_state_username"),
            models.Index(fields=["organization", "display_name"], name="user_org_display_name"),
            # Exactly the keyset order of the Users list and API: (username, id) within an organization.
            models.Index(fields=["organization", "username", "id"], name="user_org_username_id"),
            # The department and domain filters and their lists of values.
            models.Index(fields=["organization", "department"], name="user_org_department"),
            models.Index(fields=["organization", "email_domain"], name="user_org_email_domain"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)


class Group(models.Model):
    """A security group of users."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=GROUP_NAME_MAX)
    description = models.CharField(max_length=1024, blank=True, default="")
    members = models.ManyToManyField(User, through="GroupMembership", related_name="groups")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["organization", "name"], name="group_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class GroupMembership(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE)
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["group", "user"], name="membership_unique"),
        ]


class ActorKind(models.TextChoices):
    ADMIN = "admin", "Administrator"
    API_KEY = "api_key", "API key"
    USER = "user", "User"
    SYSTEM = "system", "System"


class AuditEvent(models.Model):
    """Who did what to which object, with before and after values (never secrets)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_events")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_id = models.CharField(max_length=64, blank=True, default="")
    actor_label = models.CharField(max_length=254, blank=True, default="")
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    target_label = models.CharField(max_length=300, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["organization", "-at", "-id"], name="audit_org_at"),
        ]


class ApiKey(models.Model):
    """An API key scoped to one organization; only its SHA-256 digest is stored."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)  # public, shown in lists
    digest = models.CharField(max_length=64)
    role = models.CharField(max_length=20, choices=AdminRole.choices, default=AdminRole.ADMINISTRATOR)
    created_by = models.ForeignKey(Administrator, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # None: until revoked

    @property
    def can_write(self) -> bool:
        return self.role in (AdminRole.OWNER, AdminRole.ADMINISTRATOR)


class AdminThrottleScope(models.TextChoices):
    ACCOUNT = "account", "Account (email as typed)"
    SOURCE = "source", "Client address"


class AdminSignInThrottle(models.Model):
    """Failed Admin Portal sign-ins per email as typed and per client address, in the database
    so every web process and thread counts the same attempts (`lockstep.console.throttle`)."""

    scope = models.CharField(max_length=10, choices=AdminThrottleScope.choices)
    key = models.CharField(max_length=254)  # lower-cased email, or the address (IPv6: its /64)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["scope", "key"], name="admin_sign_in_throttle_unique"),
        ]


class AdminRecoveryCode(models.Model):
    """One of an administrator's second-factor recovery codes, stored as a keyed hash; each
    works once (`lockstep.directory.services.admin_recovery`)."""

    admin = models.ForeignKey(Administrator, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)
