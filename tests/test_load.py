"""The scenarios' one load generator (molecule/shared/load.py), on requests that need no node."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("shared_load", ROOT / "molecule" / "shared" / "load.py")
assert _spec and _spec.loader
load = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = load  # dataclasses look their module up there
_spec.loader.exec_module(load)


def test_it_stops_at_the_request_bound_and_keeps_every_answer() -> None:
    # Paced, so that the three clients take turns even on a busy machine.
    with load.Load(
        lambda index: lambda: load.Outcome(True, value=index), clients=3, max_requests=60, pause=0.02
    ) as run:
        run.wait_for(60, since=0, timeout=20)
    # A client that checked the bound just before another one answered may add one more.
    assert 60 <= run.sent <= 62
    assert not run.failed()
    assert set(run.values()) == {0, 1, 2}
    assert str(run).startswith(f"{run.sent} requests sent, 0 failed")


def test_an_error_is_a_failed_request_named_in_the_result() -> None:
    counter = itertools.count()

    def request() -> object:
        if next(counter) % 2:
            raise ConnectionResetError("reset by peer")
        return load.Outcome(False, "GET / 502")

    with load.Load(lambda index: request, clients=1, max_requests=4) as run:
        run.wait_for(4, since=0, timeout=10)
    assert run.failures() == {"GET / 502": 2, "ConnectionResetError: reset by peer": 2}
    assert "4 failed" in str(run)


def test_it_stops_by_itself_after_max_seconds_and_waits_after_a_failure() -> None:
    with load.Load(lambda index: lambda: load.Outcome(False, "no"), clients=1, max_seconds=0.5,
                   pause_after_failure=0.2) as run:  # fmt: skip
        time.sleep(1.0)
        sent = run.sent
        time.sleep(0.3)
        assert run.sent == sent, "the load stopped at its time bound"
    assert 1 <= sent <= 4


def test_leaving_the_block_stops_the_load() -> None:
    with load.Load(lambda index: lambda: load.Outcome(True), clients=2, pause=0.01) as run:
        time.sleep(0.2)
    sent = run.sent
    time.sleep(0.1)
    assert run.sent == sent > 0
