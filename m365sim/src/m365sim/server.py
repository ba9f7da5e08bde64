"""Run the app with uvicorn over HTTPS (thread or foreground)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn

from m365sim.app import create_app
from m365sim.pki import TLSFiles, ensure_tls
from m365sim.simulator import Simulator


def _loop() -> str:
    try:
        import uvloop  # noqa: F401

        return "uvloop"
    except ImportError:
        return "asyncio"


def _http() -> str:
    try:
        import httptools  # noqa: F401

        return "httptools"
    except ImportError:
        return "h11"


def make_server(sim: Simulator, sock: socket.socket, tls: TLSFiles) -> uvicorn.Server:
    host, port = sock.getsockname()[:2]
    sim.base_url = f"https://{host}:{port}"
    sim.ca_file = str(tls.ca_file)  # type: ignore[attr-defined]
    config = uvicorn.Config(
        create_app(sim),
        ssl_certfile=str(tls.cert_file),
        ssl_keyfile=str(tls.key_file),
        log_level="warning",
        access_log=False,
        lifespan="off",
        loop=_loop(),
        http=_http(),
        timeout_keep_alive=30,
        # SIGTERM ends the server within seconds even while a client still holds a request open
        # (uvicorn otherwise waits for every connection; SimServer.stop allows 10 s)
        timeout_graceful_shutdown=3,
    )
    return uvicorn.Server(config)


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted sockets inherit TCP_NODELAY on Linux: no Nagle stall between the TLS records
    # of the response head and body (otherwise ~40 ms per request with delayed ACKs)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


class ThreadedServer:
    """uvicorn in a daemon thread; ``stop()`` shuts it down."""

    def __init__(
        self, sim: Simulator, host: str = "127.0.0.1", port: int = 0, ca_dir: str | Path | None = None
    ) -> None:
        self.sim = sim
        self.tls = ensure_tls(ca_dir)
        self.sock = bind(host, port)
        self.server = make_server(sim, self.sock, self.tls)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.time() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.time() > deadline:
                raise RuntimeError("m365sim failed to start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.server.force_exit = True  # do not wait for clients' idle keep-alive connections
        self.thread.join(timeout=10)
        self.sock.close()
