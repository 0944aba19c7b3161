"""A bounded number of password verifications at once, per process and per node.

One argon2 verification takes its hash's memory cost (64 MiB with the default
parameters), so the number that run at the same time decides the service's peak memory.
A :class:`LoginGate` hands out a slot from two pools before a verification starts:

- per process: a semaphore shared by the worker's threads;
- per node: ``N`` lock files ``login-slot-<i>.lock`` in a directory every worker of the
  node shares (the service's runtime directory), each held with a non-blocking
  ``fcntl.flock``. The kernel drops a lock when its holder dies, so a killed worker never
  leaks a slot.

A caller that gets no slot within the wait gets ``False`` and answers 503.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("loginapp.limits")

# Pause between two rounds over the node's lock files while waiting for a free one.
POLL_SECONDS = 0.02


class LoginGate:
    """Slots for password verifications: ``process`` per process, ``node`` per node (0: none)."""

    def __init__(
        self, process: int, node: int = 0, lock_dir: str | None = None, wait_ms: int = 1000
    ) -> None:
        if process < 1 or node < 0 or wait_ms < 0:
            raise ValueError("process must be >= 1, node and wait_ms >= 0")
        self.process = process
        self.node = node if lock_dir else 0
        self.lock_dir = Path(lock_dir) if lock_dir else None
        self.wait = wait_ms / 1000
        self._semaphore = threading.BoundedSemaphore(process)
        self._warned = False

    def _lock_paths(self) -> list[Path]:
        assert self.lock_dir is not None
        return [self.lock_dir / f"login-slot-{i}.lock" for i in range(self.node)]

    def _try_node_slot(self) -> int | None:
        """A file descriptor holding one of the node's lock files, or None when all are taken."""
        for path in self._lock_paths():
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            return fd
        return None

    def _node_slot(self, deadline: float) -> tuple[bool, int | None]:
        """(got a slot, its fd); a node pool that cannot be used counts as no pool (logged once)."""
        if not self.node:
            return True, None
        while True:
            try:
                fd = self._try_node_slot()
            except OSError as exc:
                if not self._warned:
                    self._warned = True
                    log.error(
                        "login slots in %s unusable (%s): only the per-process limit applies",
                        self.lock_dir,
                        exc.strerror or exc,
                    )
                return True, None
            if fd is not None:
                return True, fd
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False, None
            time.sleep(min(POLL_SECONDS, remaining))

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Yield True while holding a slot, or False when none was free within the wait."""
        deadline = time.monotonic() + self.wait
        if not self._semaphore.acquire(timeout=self.wait):
            yield False
            return
        try:
            got, fd = self._node_slot(deadline)
            try:
                yield got
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
        finally:
            self._semaphore.release()
