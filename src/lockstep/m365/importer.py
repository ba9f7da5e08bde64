"""Remote accounts and how they match Lockstep users (the first half of an import).

No permission checks here: `lockstep.m365.services.imports` is the public, typed API that
validates input, checks the actor and writes the audit rows, then calls into these modules:

* this one: a scanned account (`candidate_from`) and `match_accounts`, which matches remote
  accounts to the organization's users by primary email: `mail`, then `userPrincipalName`, then
  SMTP proxy addresses; never by display name;
* `import_scan`: the scan that lists a tenant's users into candidates;
* `takeover`: the Lockstep side of a takeover (the user an import creates, the writes it plans).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from lockstep.directory.models import User
from lockstep.m365 import mapping
from lockstep.m365.models import Directory, ImportCandidate, ImportScan, UserBinding

KEPT = (
    "userPrincipalName",
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
    "onPremisesImmutableId",
    "onPremisesSyncEnabled",
)
"""Remote values kept per candidate: what the engine compares (and `last_applied` starts from)."""

NEW, MATCHED, AMBIGUOUS, BOUND = "new", "matched", "ambiguous", "bound"
STATUSES = (NEW, MATCHED, AMBIGUOUS, BOUND)
ADDRESS_CHUNK = 500

# --- remote accounts ---------------------------------------------------------------------------


def smtp_addresses(proxies: Iterable[Any] | None) -> list[str]:
    """The SMTP proxy addresses (primary `SMTP:` and secondary `smtp:`), lower-cased."""
    found: list[str] = []
    for proxy in proxies or ():
        text = str(proxy)
        if text[:5].lower() == "smtp:" and text[5:]:
            address = text[5:].strip().lower()
            if address not in found:
                found.append(address)
    return found


@dataclass(frozen=True)
class RemoteAccount:
    """The addresses of one Microsoft 365 account, for matching."""

    remote_id: str
    upn: str
    mail: str = ""
    proxies: tuple[str, ...] = ()

    def addresses(self) -> list[tuple[str, str]]:
        """(kind, lower-cased address) in matching order: mail, then UPN, then proxy addresses."""
        out = [("mail", self.mail.lower()), ("userPrincipalName", self.upn.lower())]
        out += [("proxyAddresses", p) for p in self.proxies]
        return [(kind, address) for kind, address in out if address]


def account_of(candidate: ImportCandidate) -> RemoteAccount:
    return RemoteAccount(
        remote_id=candidate.remote_id,
        upn=candidate.upn,
        mail=candidate.mail,
        proxies=tuple(candidate.attributes.get("proxyAddresses") or ()),
    )


def candidate_from(item: Mapping[str, Any], admins: set[str]) -> ImportCandidate:
    """An unsaved candidate from one Graph user object (match fields are filled in later)."""
    upn = str(item.get("userPrincipalName") or "")
    attributes = {k: item.get(k) for k in KEPT if item.get(k) not in (None, "", [])}
    proxies = smtp_addresses(item.get("proxyAddresses"))
    if proxies:
        attributes["proxyAddresses"] = proxies
    attributes.setdefault("accountEnabled", bool(item.get("accountEnabled", True)))
    remote_id = str(item.get("id") or "")
    return ImportCandidate(
        remote_id=remote_id,
        upn=upn[:113],
        sort_key=upn.lower()[:113],
        mail=str(item.get("mail") or "")[:254],
        display_name=str(item.get("displayName") or "")[:256],
        licensed=bool(item.get("assignedLicenses")),
        enabled=item.get("accountEnabled") is not False,
        admin=remote_id in admins,
        attributes=attributes,
    )


def synced(candidate: ImportCandidate) -> bool:
    """The account is synced from on-premises AD by Entra Connect (never imported)."""
    return mapping.synced_from_on_premises(candidate.attributes)


# --- matching ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    status: str
    user_id: int | None = None
    matched_by: str = ""
    reason: str = ""
    pending_binding: bool = False  # the user is bound here without an account yet: the import links it


def _chunks(values: Sequence[str], size: int = ADDRESS_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def match_accounts(*, directory: Directory, accounts: Sequence[RemoteAccount]) -> dict[str, Match]:
    """Match remote accounts to the organization's users (a few queries per call, any size).

    `bound`: a binding of this directory already holds the account. `matched`: exactly one
    user has one of its addresses as company email. `ambiguous`: several users match
    different addresses, or the one user is bound to another account of this tenant, or
    the account is still being blocked after an unbind. `new`: no user matches.
    """
    addresses = sorted({address for account in accounts for _, address in account.addresses()})
    users: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(addresses):
        found = User.objects.filter(organization_id=directory.organization_id, email__in=chunk)
        for email, user_id, username in found.values_list("email", "id", "username"):
            users[email] = (user_id, username)
    remote_ids = [a.remote_id for a in accounts]
    by_remote: dict[str, tuple[int | None, bool]] = {}
    for chunk in _chunks(remote_ids):
        rows = UserBinding.objects.filter(directory=directory, remote_id__in=chunk)
        for remote_id, user_id, unbound in rows.values_list("remote_id", "user_id", "unbound"):
            if remote_id not in by_remote or (user_id and not unbound):
                by_remote[remote_id] = (user_id, unbound)
    user_ids = sorted({user_id for user_id, _ in users.values()})
    by_user: dict[int, tuple[str, str, bool]] = {}
    for start in range(0, len(user_ids), ADDRESS_CHUNK):
        rows = UserBinding.objects.filter(
            directory=directory, user_id__in=user_ids[start : start + ADDRESS_CHUNK]
        )
        for user_id, remote_id, remote_upn, unbound in rows.values_list(
            "user_id", "remote_id", "remote_upn", "unbound"
        ):
            by_user[user_id] = (remote_id, remote_upn, unbound)
    usernames = {user_id: username for user_id, username in users.values()}
    return {a.remote_id: _match_one(a, users, by_remote, by_user, usernames) for a in accounts}


def _match_one(
    account: RemoteAccount,
    users: Mapping[str, tuple[int, str]],
    by_remote: Mapping[str, tuple[int | None, bool]],
    by_user: Mapping[int, tuple[str, str, bool]],
    usernames: Mapping[int, str],
) -> Match:
    bound = by_remote.get(account.remote_id)
    if bound is not None:
        user_id, unbound = bound
        if user_id and not unbound:
            return Match(BOUND, user_id, "", "Already bound to this Microsoft 365 account.")
        return Match(
            AMBIGUOUS,
            None,
            "",
            "Lockstep is still blocking this account after an unbind or a user deletion; "
            "import it once that has finished.",
        )
    found: dict[int, str] = {}
    for kind, address in account.addresses():
        if address in users:
            found.setdefault(users[address][0], kind)
    if not found:
        return Match(NEW)
    if len(found) > 1:
        shown = ", ".join(f"{usernames[u]} (by {kind})" for u, kind in found.items())
        return Match(
            AMBIGUOUS, None, "", f"Matches several Lockstep users through different addresses: {shown}."
        )
    [(user_id, kind)] = found.items()
    binding = by_user.get(user_id)
    if binding is not None:
        remote_id, remote_upn, unbound = binding
        if unbound:
            return Match(
                AMBIGUOUS,
                user_id,
                kind,
                f"{usernames[user_id]} is being unbound from this directory; import once that has finished.",
            )
        if remote_id and remote_id != account.remote_id:
            return Match(
                AMBIGUOUS,
                user_id,
                kind,
                f"{usernames[user_id]} is already bound to another Microsoft 365 account "
                f"({remote_upn or remote_id}).",
            )
        return Match(
            MATCHED,
            user_id,
            kind,
            f"{usernames[user_id]} is bound to this directory but not yet provisioned: "
            "the import links it to this account.",
            pending_binding=True,
        )
    return Match(MATCHED, user_id, kind)


def mark_duplicate_matches(scan: ImportScan) -> int:
    """Accounts of one scan that match the same Lockstep user are all ambiguous (shown, not guessed)."""
    duplicated = (
        ImportCandidate.objects.filter(scan=scan, status=MATCHED)
        .values("matched_user")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("matched_user", flat=True)
    )
    changed = 0
    for user_id in list(duplicated):
        rows = ImportCandidate.objects.filter(scan=scan, status=MATCHED, matched_user_id=user_id)
        upns = sorted(rows.values_list("upn", flat=True))
        username = User.objects.filter(pk=user_id).values_list("username", flat=True).first() or str(user_id)
        changed += rows.update(
            status=AMBIGUOUS,
            reason=f"Several Microsoft 365 accounts match {username}: {', '.join(upns)}.",
        )
    return changed
