"""`lockstep demo` (what `make run` does): a demo data folder, m365sim's demo tenant, then `run`."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lockstep.commands.admin import bootstrap_first_admin, migrate
from lockstep.commands.common import out, setup_django
from lockstep.commands.demo_mail import start_mail_catcher
from lockstep.commands.serve import serve_forever

if TYPE_CHECKING:
    from lockstep.directory.models import Administrator

DEMO_ORGANIZATION = "Demo Organization"
DEMO_DATA_DIR = "./var/demo"
M365SIM_PORT = 8443


def m365sim_available() -> bool:
    try:
        return importlib.util.find_spec("m365sim.cli") is not None
    except ModuleNotFoundError:
        return False


def start_m365sim(
    data_dir: Path, *, port: int = M365SIM_PORT, wait_seconds: float = 10.0
) -> subprocess.Popen[bytes] | None:
    """m365sim's demo tenant in a subprocess, when the package and its CLI are installed.

    Its CA goes to `<data dir>/m365sim/` (which `demo` makes Lockstep trust), its state to
    `<data dir>/m365sim.json`, its output to `<data dir>/m365sim.log`; the connection details it
    prints are shown on the terminal.
    """
    if not m365sim_available():
        out("m365sim is not installed: the demo runs without a local Microsoft 365 tenant.")
        return None
    log_path = data_dir / "m365sim.log"
    log_path.write_bytes(b"")
    command = [
        sys.executable, "-m", "m365sim.cli", "serve", "--seed", "demo", "--port", str(port),
        "--state", str(data_dir / "m365sim.json"), "--ca-dir", str(data_dir / "m365sim"),
    ]  # fmt: skip
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and process.poll() is None:
        if "control API" in log_path.read_text(errors="replace"):
            break
        time.sleep(0.1)
    if process.poll() is not None:
        out(f"m365sim did not start (exit {process.returncode}); see {log_path}. Continuing without it.")
        return None
    details = log_path.read_text(errors="replace").strip()
    out(details or f"m365sim is starting on https://127.0.0.1:{port}/ (log: {log_path})")
    return process


DEMO_DIRECTORY = "Contoso (m365sim demo tenant)"


def connect_demo_directory(*, port: int) -> None:
    """Connect the demo organization to m365sim's demo tenant once, and verify it."""
    from lockstep.directory.actors import Actor
    from lockstep.directory.errors import ServiceError
    from lockstep.directory.models import Organization
    from lockstep.m365.models import Directory
    from lockstep.m365.services import directories

    # Imported by name: a plain import would make mypy resolve the repo's m365sim/ folder.
    seeds = importlib.import_module("m365sim.seeds")

    organization = Organization.objects.filter(name=DEMO_ORGANIZATION).first()
    if organization is None or Directory.objects.filter(organization=organization).exists():
        return
    base = f"https://127.0.0.1:{port}"
    try:
        directory, _ = directories.add_directory(
            actor=Actor.system(organization.pk, "lockstep demo"),
            fields={
                "name": DEMO_DIRECTORY,
                "tenant_id": seeds.DEMO_TENANT_ID,
                "client_id": seeds.DEMO_CLIENT_ID,
                "credential_kind": "secret",
                "client_secret": seeds.DEMO_CLIENT_SECRET,
                "cloud": "custom",
                "login_base_url": base,
                "graph_base_url": f"{base}/v1.0",
            },
        )
    except ServiceError as problem:
        out(f"Could not connect the demo directory: {problem}")
        return
    out(f"Connected the demo organization to m365sim's demo tenant: {directory.name} ({directory.health}).")


def demo_exports(data_dir: Path, *, with_ca: bool) -> str:
    """The `export` line that points another shell's `lockstep` at this demo's database."""
    names = ["LOCKSTEP_DATA_DIR"] + (["LOCKSTEP_TRUSTED_CA_FILE"] if with_ca else [])
    for name in ("LOCKSTEP_DATABASE_URL", "LOCKSTEP_BASE_URL"):
        if os.environ.get(name):
            names.append(name)
    values = {"LOCKSTEP_DATA_DIR": str(data_dir.resolve())}
    values.update({name: os.environ[name] for name in names if name in os.environ and name not in values})
    return "export " + " ".join(f"{name}={shlex.quote(values[name])}" for name in names if name in values)


def cmd_demo(args: argparse.Namespace) -> int:
    os.environ.setdefault("LOCKSTEP_DATA_DIR", args.data_dir)
    os.environ.setdefault("LOCKSTEP_ALLOW_CUSTOM_ENDPOINTS", "true")  # the demo tenant is m365sim
    if args.listen and "LOCKSTEP_BASE_URL" not in os.environ:
        # The public URL goes into links and SAML metadata (issuer, SSO URL): on another port
        # the demo must say that port, here and in the command line's export line.
        os.environ["LOCKSTEP_BASE_URL"] = f"http://{args.listen}"
    if not args.no_m365sim and m365sim_available():
        # Lockstep trusts the CA m365sim generates into the demo folder (start_m365sim's --ca-dir).
        ca_file = Path(os.environ["LOCKSTEP_DATA_DIR"]).resolve() / "m365sim" / "ca.pem"
        os.environ.setdefault("LOCKSTEP_TRUSTED_CA_FILE", str(ca_file))
    mail_catcher = start_mail_catcher(Path(os.environ["LOCKSTEP_DATA_DIR"]), port=args.mail_port)
    setup_django()
    from django.conf import settings

    from lockstep.config import env

    data_dir = Path(settings.DATA_DIR)
    out(f"Demo data folder: {data_dir}")
    applied = migrate(verbosity=0)
    if applied:
        out(f"Applied {applied} database migrations.")
    simulator = start_m365sim(data_dir, port=args.m365sim_port) if not args.no_m365sim else None
    out("To use the command line against this demo, in another terminal:")
    out(f"  {demo_exports(data_dir, with_ca=simulator is not None)}")
    out("  .venv/bin/lockstep m365 status")

    def bootstrap() -> tuple[Administrator, str] | None:
        # the local demo leaves MFA for administrators off (its dashboard says so)
        created = bootstrap_first_admin(
            email=args.admin_email, organization_name=DEMO_ORGANIZATION, require_admin_mfa=False
        )
        if simulator is not None:
            connect_demo_directory(port=args.m365sim_port)
        return created

    try:
        return serve_forever(listen=args.listen or env("LOCKSTEP_LISTEN"), bootstrap=bootstrap)
    finally:
        if mail_catcher is not None:
            mail_catcher.stop()
        if simulator is not None:
            simulator.terminate()
            try:
                simulator.wait(timeout=5)
            except subprocess.TimeoutExpired:
                simulator.kill()
