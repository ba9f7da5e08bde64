"""The sync loop's threads: every active directory synced at the same time, each at its own pace.

One `DirectoryQueue` per worker process holds the directories waiting for a turn, round-robin;
up to `SYNC_THREADS` threads take a directory, run one round of it (a chunk of each pass) and
give it back: to the end of the queue at once when the round found work, else until the next
wake-up. A directory is never in two threads of one process, so its Graph client is used by
one thread at a time; a directory paced or paused by its tenant's budget (sleeping in
`DatabaseBudget.acquire`) holds only its own thread. Each thread has its own database
connection (Django's are per thread) and closes it when it ends.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable

from django.db import close_old_connections, connection

log = logging.getLogger(__name__)


class SyncStopped(BaseException):
    """Raised inside a sync thread (from a budget wait) when its worker is stopping.

    A BaseException, so the passes' `except Exception` handlers let it through.
    """


class DirectoryQueue:
    """Directory ids waiting for a sync thread, in turn; one directory is in one thread at most."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._ready: deque[int] = deque()
        self._queued: set[int] = set()
        self._busy: set[int] = set()
        self._again: set[int] = set()  # offered while busy: gets another round when it comes back

    def offer(self, directory_ids: Iterable[int]) -> None:
        with self._cond:
            for directory_id in directory_ids:
                if directory_id in self._busy:
                    self._again.add(directory_id)
                else:
                    self._enqueue(directory_id)
            self._cond.notify_all()

    def take(self, timeout: float) -> int | None:
        """The next directory's id (now busy), or None after `timeout` seconds with none waiting."""
        with self._cond:
            if not self._ready:
                self._cond.wait(timeout)
            if not self._ready:
                return None
            directory_id = self._ready.popleft()
            self._queued.discard(directory_id)
            self._busy.add(directory_id)
            return directory_id

    def done(self, directory_id: int, *, again: bool) -> None:
        """A round is over; `again`: it found work, so the directory queues up at once (at the end)."""
        with self._cond:
            self._busy.discard(directory_id)
            if again or directory_id in self._again:
                self._enqueue(directory_id)
                self._cond.notify()
            self._again.discard(directory_id)

    def waiting(self) -> list[int]:
        with self._cond:
            return list(self._ready)

    def _enqueue(self, directory_id: int) -> None:
        if directory_id not in self._queued:
            self._queued.add(directory_id)
            self._ready.append(directory_id)


class DirectoryThreads:
    """Up to `size` threads running `run_round(directory_id) -> bindings handled` off a queue."""

    TAKE_TIMEOUT = 0.5  # how often an idle thread looks at the stop event

    def __init__(
        self, run_round: Callable[[int], int], *, size: int, stop: threading.Event, name: str = "sync"
    ) -> None:
        self.queue = DirectoryQueue()
        self.run_round = run_round
        self.size = max(1, size)
        self.stop = stop
        self.name = name
        self.threads: list[threading.Thread] = []

    def offer(self, directory_ids: list[int]) -> None:
        """Queue these directories for a round; start threads as needed (one per directory, capped)."""
        self.threads = [t for t in self.threads if t.is_alive()]
        wanted = min(self.size, len(directory_ids))
        while len(self.threads) < wanted:
            thread = threading.Thread(
                target=self._serve, name=f"lockstep-{self.name}-{len(self.threads)}", daemon=True
            )
            thread.start()
            self.threads.append(thread)
        self.queue.offer(directory_ids)

    def join(self, timeout: float = 10.0) -> None:
        for thread in self.threads:
            thread.join(timeout)

    def _serve(self) -> None:
        try:
            while not self.stop.is_set():
                directory_id = self.queue.take(self.TAKE_TIMEOUT)
                if directory_id is None:
                    continue
                handled = 0
                try:
                    close_old_connections()
                    handled = self.run_round(directory_id)
                except SyncStopped:
                    break
                except Exception:
                    log.exception("sync round of directory %s failed", directory_id)
                finally:
                    self.queue.done(directory_id, again=handled > 0)
        finally:
            connection.close()
