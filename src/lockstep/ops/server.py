"""`lockstep run`: waitress serving the WSGI app, plus the embedded worker; stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from types import FrameType

logger = logging.getLogger("lockstep.ops.server")


class ListenError(Exception):
    """The server cannot bind its address (in use, not local, malformed)."""


def bound_address(server: object) -> tuple[str, int]:
    """(host, port) the server listens on (the first one if several)."""
    host = getattr(server, "effective_host", None)
    port = getattr(server, "effective_port", None)
    if host is None:  # MultiSocketServer
        first = server.effective_listen[0]  # type: ignore[attr-defined]
        host, port = first[0], first[1]
    return str(host), int(port or 0)


def serve(
    *,
    listen: str,
    threads: int,
    embedded_worker: bool,
    on_ready: Callable[[str, int], None] | None = None,
) -> int:
    """Serve until SIGTERM or SIGINT; finish in-flight requests and the running task, return 0."""
    from django.conf import settings
    from waitress.server import create_server

    from lockstep.ops.worker import EmbeddedWorker
    from lockstep.wsgi import application

    try:
        # With LOCKSTEP_TRUSTED_PROXIES set, X-Forwarded-For reaches Django, where
        # portal.client_address believes it only from those proxies; without, waitress drops it.
        server = create_server(
            application,
            listen=listen,
            threads=threads,
            ident="Lockstep",
            clear_untrusted_proxy_headers=not settings.TRUSTED_PROXIES,
        )
    except (OSError, ValueError) as problem:
        reason = problem.strerror if isinstance(problem, OSError) and problem.strerror else str(problem)
        raise ListenError(f"cannot listen on {listen!r}: {reason}") from None
    worker = EmbeddedWorker() if embedded_worker else None

    def stop(signum: int, frame: FrameType | None) -> None:
        logger.info("received %s: stopping", signal.strsignal(signum))
        raise SystemExit(0)  # waitress' loop catches it and closes its sockets and threads

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if worker is not None:
            worker.start()
        host, port = bound_address(server)
        if on_ready is not None:
            on_ready(host, port)
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if worker is not None and not worker.stop(timeout=10):
            logger.warning(
                "the embedded worker was still running a task; a restart's reaper will re-queue it"
            )
    return 0
