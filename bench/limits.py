"""Pure decisions about the load generators' own limits: how big the next h2load round is, and
whether a load measured the stack or a limit of its generator.

Nginx closes an HTTP/2 connection after ``keepalive_requests`` answers (1000 unless set; the
nginx role keeps that default), and h2load (1.52, Debian 12's, and its later versions) opens a
new connection only for an HTTP/1.1 client: an HTTP/2 client whose connection the server closed
is done. In its duration mode (``-D``), which ignores ``-n``, h2load then waits out the duration
with nothing to send and reports connections x 1000 requests over the whole duration; in its
count mode (``-n``) the requests left to that client fail. So the HTTP/2 loads run h2load in
rounds of ``-n`` with at most ``H2_REQUESTS_PER_CONNECTION`` requests on each connection until
the duration is spent, and any round in which fewer requests were done than asked is flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .parse import H2Summary

# Requests that one h2load round sends on each connection: under nginx's keepalive_requests (1000).
H2_REQUESTS_PER_CONNECTION = 900
# The first round of an unpaced load, before any rate is known: this many requests per connection.
H2_FIRST_ROUND_PER_CONNECTION = 25
# A load counts as ended early below this share of its asked time; a generator whose requests were
# all answered in less than this share of the time it reports was idle for the rest.
MIN_TIME_SHARE = 0.9


def next_round(
    duration_s: float,
    elapsed_s: float,
    done: int,
    connections: int,
    *,
    rps_per_client: int | None = None,
    per_connection_max: int = H2_REQUESTS_PER_CONNECTION,
) -> int:
    """``-n`` of the next h2load round: the requests that fill the time left at the asked rate
    (``--rps``) or at the rate measured so far, a small first round when none is known yet, at most
    ``per_connection_max`` per connection, a multiple of ``connections``; 0 when the time is spent."""
    left = duration_s - elapsed_s
    if left <= 0 or connections <= 0:
        return 0
    if rps_per_client:
        per_connection = math.floor(rps_per_client * left)
    elif done > 0 and elapsed_s > 0:
        per_connection = math.floor(done / elapsed_s / connections * left)
    else:
        per_connection = H2_FIRST_ROUND_PER_CONNECTION
    return max(0, min(per_connection, per_connection_max)) * connections


@dataclass(frozen=True)
class GeneratorRun:
    """What a load asked of its generator and what the generator reports it did."""

    tool: str
    asked_s: float  # the load's duration
    ran_s: float  # the time the generator reports (h2load's "finished in", summed over rounds; wrk's)
    done: int  # requests the generator completed
    asked_requests: int | None = None  # -n, summed over rounds; None in a duration mode
    busy_s: float | None = None  # first request's start to the last answer's end (duration mode, from its log)
    asked_rps: float | None = None  # the fixed rate asked (all connections)
    achieved_rps: float | None = None


def generator_limit(run: GeneratorRun) -> str | None:
    """Why the load's figures are its generator's rather than the stack's, or None when they are
    the stack's: the generator finished fewer requests than asked, was idle for part of a duration
    (its clients had stopped), or ran for less than the asked time. A fixed rate below the asked one
    is the stack's answer (h2load keeps the pace while it has connections), unless one of these holds."""
    reason = None
    if run.asked_requests is not None and run.done < run.asked_requests:
        reason = f"capped by {run.tool}: {run.done:,} of {run.asked_requests:,} requests, its clients stopped early"
    elif run.busy_s is not None and run.ran_s > 0 and run.busy_s < MIN_TIME_SHARE * run.ran_s:
        reason = f"capped by {run.tool}: {run.done:,} requests, all answered in {run.busy_s:.1f} of {run.ran_s:.1f} s"
    elif run.ran_s < MIN_TIME_SHARE * run.asked_s:
        reason = f"{run.tool} ended early: {run.done:,} requests in {run.ran_s:.1f} of {run.asked_s:g} s"
    if reason and run.asked_rps and run.achieved_rps is not None:
        reason += f" ({run.achieved_rps:,.0f} of {run.asked_rps:,.0f} req/s asked)"
    return reason


def busy_span_s(rows: list[tuple[int, int, int]]) -> float:
    """Seconds from the first request's start to the last answer's end, from h2load's log rows
    (start µs since the epoch, status, µs to the end of the response)."""
    if not rows:
        return 0.0
    first = min(start for start, _status, _us in rows)
    last = max(start + us for start, _status, us in rows)
    return (last - first) / 1e6


def h2load_run(
    rounds: list[tuple[int | None, H2Summary, list[tuple[int, int, int]]]],
    asked_s: float,
    asked_rps: float | None = None,
) -> GeneratorRun:
    """The GeneratorRun of h2load runs in a row, each as (its -n, or None in the duration mode; its
    summary; its log rows). In the duration mode the logs tell how long its clients were busy."""
    ran_s = sum(summary.duration_s for _asked, summary, _rows in rounds)
    answered = sum(1 for _asked, _summary, rows in rounds for row in rows if row[1] > 0)
    counted = all(asked is not None for asked, _summary, _rows in rounds)
    return GeneratorRun(
        tool="h2load",
        asked_s=asked_s,
        ran_s=ran_s,
        done=sum(summary.done for _asked, summary, _rows in rounds),
        asked_requests=sum(asked or 0 for asked, _summary, _rows in rounds) if counted else None,
        busy_s=None if counted else sum(busy_span_s(rows) for _asked, _summary, rows in rounds),
        asked_rps=asked_rps,
        achieved_rps=answered / ran_s if ran_s > 0 else 0.0,
    )
