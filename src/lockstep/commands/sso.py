"""`lockstep sso ...`: single sign-on from the command line (SPEC 6), through `lockstep.saml.services`.

Directories are named by id or name, and `--organization` picks the organization when there are
several, as for `lockstep m365`. The commands act as the system actor "lockstep CLI" (an owner:
whoever runs the command holds the installation), so every change has an audit row.
Django is set up only when a command runs; each command imports models in its body.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lockstep.commands.common import (
    CommandFailed,
    format_service_error,
    out,
    require_migrated,
    setup_django,
)

if TYPE_CHECKING:
    from lockstep.directory.actors import Actor
    from lockstep.m365.models import Directory
    from lockstep.saml.services import Readiness


def register(subparsers: Any) -> None:
    """Add the `sso` command and its subcommands to the `lockstep` parser."""
    sso = subparsers.add_parser("sso", help="single sign-on: status, readiness, federate, roll back, keys")
    commands = sso.add_subparsers(dest="sso_command", required=True, metavar="SUBCOMMAND")

    def add(name: str, help_text: str, handler: Callable[[argparse.Namespace], int], *, domain: bool) -> Any:
        parser = commands.add_parser(name, help=help_text)
        parser.add_argument(
            "--organization", help="organization name or slug (needed when there are several)"
        )
        parser.add_argument("directory", metavar="DIRECTORY", help="directory id or name")
        if domain:
            parser.add_argument("domain", metavar="DOMAIN", help="a domain of the directory's tenant")
        parser.set_defaults(handler=_guarded(handler))
        return parser

    add("status", "federation status of every domain of a directory", cmd_status, domain=False)
    add(
        "readiness",
        "what blocks federating a domain (exit 1 while anything does)",
        cmd_readiness,
        domain=True,
    )
    add(
        "set-immutable-ids",
        "queue onPremisesImmutableId for the domain's bound users",
        cmd_immutable_ids,
        domain=True,
    )
    add("test", "a test sign-in for a user of the domain (exit 1 when it fails)", cmd_test, domain=True)
    add("federate", "federate the domain with Lockstep", cmd_federate, domain=True)
    roll_back = add(
        "roll-back", "roll the domain back to managed (cloud passwords)", cmd_roll_back, domain=True
    )
    roll_back.add_argument(
        "--yes", action="store_true", help="confirm: the domain's users will need passwords"
    )
    signed = add(
        "signed-requests",
        "require (or not) Microsoft 365 to sign its sign-in requests for the domain",
        cmd_signed_requests,
        domain=True,
    )
    choice = signed.add_mutually_exclusive_group(required=True)
    choice.add_argument(
        "--required", dest="required", action="store_true", help="Lockstep refuses unsigned requests"
    )
    choice.add_argument(
        "--not-required", dest="required", action="store_false", help="requests may come unsigned"
    )
    keys = commands.add_parser("keys", help="the organization's signing certificates")
    keys.add_argument("--organization", help="organization name or slug (needed when there are several)")
    keys.set_defaults(handler=_guarded(cmd_keys))
    rotate = commands.add_parser(
        "rotate", help="rotate the signing certificate: publish the next, then promote it"
    )
    rotate.add_argument("--organization", help="organization name or slug (needed when there are several)")
    step = rotate.add_mutually_exclusive_group(required=True)
    step.add_argument("--publish", action="store_true", help="publish the next certificate to Microsoft 365")
    step.add_argument("--promote", action="store_true", help="make the published next certificate sign")
    rotate.set_defaults(handler=_guarded(cmd_rotate))


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Django set up first (models are imported in each command's body), then every service
    error as one `error: field: words` line (exit 1), never a traceback."""

    def run(args: argparse.Namespace) -> int:
        setup_django()
        require_migrated()
        from lockstep.directory.errors import ServiceError

        try:
            return handler(args)
        except ServiceError as error:
            raise CommandFailed(format_service_error(error)) from None

    return run


def _target(args: argparse.Namespace) -> tuple[Actor, Directory]:
    from lockstep.m365 import cli as m365_cli

    actor, _ = m365_cli.context(args)
    return actor, m365_cli.directory_named(actor, args.directory)


def _organization(args: argparse.Namespace) -> tuple[Actor, Any]:
    from lockstep.m365 import cli as m365_cli

    return m365_cli.context(args)


def _domain(value: str) -> str:
    return value.strip().lower()


# --- status, readiness ----------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    from lockstep.saml import services as sso

    _actor, directory = _target(args)
    rows = sso.federation_status(directory)
    out(f"{directory.name} (id {directory.pk}): {len(rows)} domain{'s' if len(rows) != 1 else ''}")
    for row in rows:
        notes = [
            f"Microsoft 365: {row.microsoft_state or 'unknown'}",
            f"Lockstep: {row.lockstep_state or 'not federated'}",
        ]
        if row.in_progress:
            notes.append("in progress (Microsoft can take up to two hours)")
        if row.is_initial:
            notes.append("initial")
        if row.is_default:
            notes.append("default")
        out(f"  {row.domain}: {', '.join(notes)}")
        if not row.is_initial:
            out(f"    issuer URI: {row.issuer_uri}")
            out(f"    SSO URL: {row.sso_url}")
            out(f"    metadata URL: {row.metadata_url}")
        if row.last_error:
            out(f"    error: {row.last_error}")
    return 0


def print_readiness(readiness: Readiness) -> None:
    if readiness.ready:
        out(f"{readiness.domain}: ready to federate.")
        return
    out(f"{readiness.domain}: {len(readiness.blockers)} blocker{'s' if len(readiness.blockers) != 1 else ''}")
    for blocker in readiness.blockers:
        out(f"  {blocker.code}: {blocker.message}")
        for upn in blocker.users:
            out(f"    {upn}")
        if blocker.count > len(blocker.users):
            out(f"    ... {blocker.count} in all")


def cmd_readiness(args: argparse.Namespace) -> int:
    from lockstep.saml import services as sso

    actor, directory = _target(args)
    readiness = sso.readiness(directory, _domain(args.domain), actor=actor)
    print_readiness(readiness)
    return 0 if readiness.ready else 1


# --- actions --------------------------------------------------------------------------------------


def cmd_immutable_ids(args: argparse.Namespace) -> int:
    from lockstep.saml import services as sso

    actor, directory = _target(args)
    count = sso.set_immutable_ids(directory, _domain(args.domain), actor=actor)
    out(
        f"Immutable ids: {count} account{'s' if count != 1 else ''} queued; Microsoft 365 follows within seconds."
    )
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from lockstep.saml import services as sso

    actor, directory = _target(args)
    test = sso.test_sign_in(directory, _domain(args.domain), actor=actor)
    who = test.user.email if test.user is not None else "a user"
    if test.passed:
        out(f"Test sign-in for {_domain(args.domain)} passed (as {who}).")
        return 0
    out(f"Test sign-in for {_domain(args.domain)} FAILED (as {who}):")
    for problem in test.problems:
        out(f"  {problem}")
    return 1


def cmd_federate(args: argparse.Namespace) -> int:
    from lockstep.directory.errors import Conflict
    from lockstep.m365.services.errors import MicrosoftRefused
    from lockstep.saml import services as sso

    actor, directory = _target(args)
    domain = _domain(args.domain)
    try:
        sso.federate(directory, domain, actor=actor)
    except MicrosoftRefused:
        raise
    except Conflict as refusal:
        out(format_service_error(refusal), sys.stderr)
        print_readiness(sso.readiness(directory, domain, actor=actor))
        return 1
    out(
        f"{domain} federated. Microsoft can take up to two hours to apply it everywhere (in progress until then)."
    )
    return 0


def cmd_roll_back(args: argparse.Namespace) -> int:
    from lockstep.saml import services as sso

    domain = _domain(args.domain)
    if not args.yes:
        raise CommandFailed(
            f"error: roll-back: the users of {domain} will need a Microsoft 365 password to sign in; "
            "pass --yes to confirm."
        )
    actor, directory = _target(args)
    sso.roll_back(directory, domain, actor=actor)
    out(f"{domain} rolled back to managed. Microsoft can take up to two hours to apply it everywhere.")
    return 0


def cmd_signed_requests(args: argparse.Namespace) -> int:
    from lockstep.saml import services as sso

    actor, directory = _target(args)
    domain = _domain(args.domain)
    sso.set_signed_requests(directory, domain, required=args.required, actor=actor)
    if args.required:
        out(f"{domain}: Microsoft 365 signs its sign-in requests; Lockstep refuses unsigned ones.")
    else:
        out(f"{domain}: Microsoft 365 may send its sign-in requests unsigned.")
    return 0


# --- keys -----------------------------------------------------------------------------------------


def cmd_keys(args: argparse.Namespace) -> int:
    from lockstep.saml import services as sso

    _actor, organization = _organization(args)
    keys = sso.key_overview(organization)
    if not keys:
        out(f"No signing certificate yet in {organization.name}: one is made when first needed.")
    for key in keys:
        where = ", ".join(key.published_domains) or "no domain"
        out(
            f"{key.fingerprint}  {key.status:<7}  {key.not_before:%Y-%m-%d} to {key.not_after:%Y-%m-%d}  "
            f"in Microsoft 365 for: {where}"
        )
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    from lockstep.saml import services as sso

    actor, organization = _organization(args)
    if args.publish:
        key = sso.publish_next_key(organization, actor=actor)
        out(f"Next certificate {key.fingerprint} published; promote it with `lockstep sso rotate --promote`.")
    else:
        key = sso.promote_next_key(organization, actor=actor)
        out(f"Certificate {key.fingerprint} promoted: it signs from now on.")
    return 0
