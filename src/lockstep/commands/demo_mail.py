"""The demo's mailbox: an SMTP server on loopback that saves every message as a .eml file.

`make run` has no mail server to talk to; without one, activation and reset emails would wait in
the outbox forever. The demo therefore catches them in `<data dir>/mail/`, where a newcomer can
open them (any mail program reads .eml) and follow their links. A configured
LOCKSTEP_EMAIL_HOST wins: the catcher starts only when none is set.
"""

from __future__ import annotations

import importlib.util
import os
import re
import time
from pathlib import Path
from typing import Any

from lockstep.commands.common import out

DEMO_MAIL_PORT = 8025


class _SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        to = re.sub(r"[^A-Za-z0-9@._-]", "_", ",".join(envelope.rcpt_tos))[:80]
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 1_000_000:06d}-{to}.eml"
        (self.folder / name).write_bytes(envelope.content)
        return "250 Saved"


def start_mail_catcher(data_dir: Path, *, port: int = DEMO_MAIL_PORT) -> Any | None:
    """Start the catcher and point Lockstep at it; None when a mail server is configured or
    aiosmtpd is not installed."""
    if os.environ.get("LOCKSTEP_EMAIL_HOST") or importlib.util.find_spec("aiosmtpd") is None:
        return None
    from aiosmtpd.controller import Controller

    folder = data_dir / "mail"
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(_SaveToFolder(folder), hostname="127.0.0.1", port=port)
    try:
        controller.start()
    except (OSError, RuntimeError) as failed:
        out(f"The demo mailbox could not listen on 127.0.0.1:{port} ({failed}); emails wait in the outbox.")
        return None
    os.environ["LOCKSTEP_EMAIL_HOST"] = "127.0.0.1"
    os.environ["LOCKSTEP_EMAIL_PORT"] = str(port)
    out(f"Emails the demo sends are saved in {folder.resolve()} (open the .eml files).")
    return controller
