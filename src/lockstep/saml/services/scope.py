"""Which directory, domain and users a SAML service call is about (always the actor's own)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from lockstep.directory.actors import Actor
from lockstep.directory.errors import NotFound, ValidationFailed
from lockstep.m365.models import Directory, UserBinding

DOMAIN_MAX = 255


def own_directory(directory: Directory, actor: Actor) -> Directory:
    """`directory` if it belongs to the actor's organization (another's looks like none)."""
    if directory.organization_id != actor.organization_id:
        raise NotFound("directory", directory.pk)
    return directory


def domain_name(domain: str) -> str:
    """The domain in lower case; a clear error when it cannot be a domain name."""
    name = (domain or "").strip().lower().rstrip(".")
    if not name or len(name) > DOMAIN_MAX or "@" in name or "/" in name or " " in name or "." not in name:
        raise ValidationFailed({"domain": ["Give a domain name such as contoso.com."]})
    return name


def bound_users(directory: Directory, domain: str) -> QuerySet[UserBinding]:
    """Bindings of Lockstep users of `directory` whose Microsoft 365 account is in `domain`.

    Decided by the account's UPN (`remote_upn`), not the user's company email: the UPN is what
    Microsoft 365 sends to the domain's identity provider and what Lockstep's assertion carries
    (IDPEmail), and an account's UPN may be in another domain than the email. A binding whose
    account is not made yet has no UPN: its email says where it will be."""
    suffix = "@" + domain
    return (
        UserBinding.objects.filter(directory=directory, unbound=False, user__isnull=False)
        .filter(Q(remote_upn__iendswith=suffix) | Q(remote_upn="", user__email__iendswith=suffix))
        .select_related("user")
    )
