"""The one load generator of the scenarios' operations under load.

A load is a few clients, each a thread with its own state (its connection, its cookies):
``client(index)`` returns the function that sends that client's next request and says how it
went (an ``Outcome``). Every answer is kept with its time, so a test can say which failed and
when. A load stops by itself: when told to (leaving the ``with`` block, or ``stop()``), after
``max_requests`` answers in all, or after ``max_seconds``.

    with Load(lambda index: one_request, clients=4, pause=0.1) as load:
        run_the_operation()
    assert not load.failed(), load
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """How one request went: right or not, what to call it when it failed, and what a test counts."""

    ok: bool
    detail: str = ""
    value: Any = None


@dataclass(frozen=True)
class Answer:
    client: int
    start: float
    end: float
    ok: bool
    detail: str
    value: Any


Request = Callable[[], Outcome]


class Load:
    """``clients`` threads, each sending ``client(index)()`` until the load stops, ``pause`` seconds
    apart (``pause_after_failure`` after a failed one, as a real client waits before it retries)."""

    def __init__(
        self,
        client: Callable[[int], Request],
        *,
        clients: int = 4,
        max_requests: int = 20000,
        max_seconds: float = 600.0,
        pause: float = 0.0,
        pause_after_failure: float = 0.0,
    ) -> None:
        self.client = client
        self.clients = clients
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.pause = pause
        self.pause_after_failure = pause_after_failure
        self._answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _run(self, index: int) -> None:
        request = self.client(index)
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                if len(self._answers) >= self.max_requests:
                    return
            start = time.monotonic()
            try:
                outcome = request()
            except Exception as error:  # any error is a failed request, named in the result
                outcome = Outcome(False, f"{type(error).__name__}: {error}")
            with self._lock:
                self._answers.append(Answer(index, start, time.monotonic(), outcome.ok, outcome.detail, outcome.value))
            time.sleep(self.pause if outcome.ok else max(self.pause, self.pause_after_failure))

    def __enter__(self) -> Load:
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    @property
    def answers(self) -> list[Answer]:
        with self._lock:
            return list(self._answers)

    @property
    def sent(self) -> int:
        with self._lock:
            return len(self._answers)

    def failed(self) -> list[Answer]:
        return [answer for answer in self.answers if not answer.ok]

    def failures(self) -> Counter[str]:
        """How many requests failed, by what failed."""
        return Counter(answer.detail for answer in self.failed())

    def values(self) -> Counter[Any]:
        """How often each counted value was seen (e.g. which node served)."""
        return Counter(answer.value for answer in self.answers if answer.value is not None)

    def sent_since(self, moment: float) -> int:
        return sum(answer.start >= moment for answer in self.answers)

    def wait_for(self, count: int, since: float, timeout: float) -> None:
        """Until `count` more requests were sent since `since` (the load goes on meanwhile)."""
        start = time.monotonic()
        while self.sent_since(since) < count:
            assert time.monotonic() - start < timeout, f"the load sent {self.sent_since(since)} requests in {timeout} s"
            time.sleep(0.1)

    def __str__(self) -> str:
        failures = dict(self.failures())
        return f"{self.sent} requests sent, {sum(failures.values())} failed {failures or ''}".strip()
