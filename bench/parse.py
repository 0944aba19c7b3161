"""Pure parsers of the load generators' output and of ansible-playbook's recap."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .stats import percentile

WRK_MARK = "BENCH_RESULT "


@dataclass
class Load:
    """What one bounded load measured."""

    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    bad_status: int = 0  # answers that are neither 2xx nor 3xx
    socket_errors: int = 0  # connect, read, write errors and timeouts
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0


def parse_wrk(text: str) -> Load:
    """wrk's output with bench/wrk_report.lua: the line ``BENCH_RESULT {json}`` printed by done()."""
    for line in text.splitlines():
        if line.startswith(WRK_MARK):
            data = json.loads(line[len(WRK_MARK) :])
            break
    else:
        raise ValueError("no BENCH_RESULT line in wrk's output (was it run with -s bench/wrk_report.lua?)")
    errors = data["errors"]
    latency = data["latency_us"]
    return Load(
        requests=int(data["requests"]),
        duration_s=data["duration_us"] / 1e6,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        p999_ms=latency["p999"] / 1000,
        max_ms=latency["max"] / 1000,
        bad_status=int(errors["status"]),
        socket_errors=int(errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]),
    )


H2_FINISHED = re.compile(r"^finished in ([0-9.]+)(us|ms|s), ([0-9.]+) req/s", re.MULTILINE)
H2_REQUESTS = re.compile(
    r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout",
    re.MULTILINE,
)
H2_STATUS = re.compile(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", re.MULTILINE)
H2_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


@dataclass
class H2Summary:
    """h2load's own summary lines."""

    duration_s: float
    done: int
    errored: int
    timeout: int
    status: dict[str, int]


def parse_h2load(text: str) -> H2Summary:
    """h2load's summary: the ``finished in``, ``requests:`` and ``status codes:`` lines."""
    finished, requests, status = H2_FINISHED.search(text), H2_REQUESTS.search(text), H2_STATUS.search(text)
    if not (finished and requests and status):
        raise ValueError("h2load's output has no summary (finished/requests/status codes lines)")
    return H2Summary(
        duration_s=float(finished[1]) * H2_UNITS[finished[2]],
        done=int(requests[3]),
        errored=int(requests[6]),
        timeout=int(requests[7]),
        status={"2xx": int(status[1]), "3xx": int(status[2]), "4xx": int(status[3]), "5xx": int(status[4])},
    )


def parse_h2load_log(text: str) -> list[tuple[int, int, int]]:
    """h2load's --log-file: (start µs since the epoch, status or -1, µs to the end of the response) per request."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise ValueError(f"h2load log line {number} has {len(fields)} fields: {line!r}")
        rows.append((int(fields[0]), int(fields[1]), int(fields[2])))
    return rows


def h2load_load(summary_text: str, log_text: str) -> Load:
    """One Load from h2load's summary and its per-request log (the percentiles come from the log)."""
    summary = parse_h2load(summary_text)
    rows = parse_h2load_log(log_text)
    answered = [us / 1000 for _start, status, us in rows if status > 0]
    if not answered:
        raise ValueError("h2load's log has no answered request")
    bad = sum(1 for _start, status, _us in rows if status > 0 and not 200 <= status < 400)
    failed = sum(1 for _start, status, _us in rows if status < 0)
    return Load(
        requests=len(answered),
        duration_s=summary.duration_s,
        p50_ms=percentile(answered, 50),
        p90_ms=percentile(answered, 90),
        p99_ms=percentile(answered, 99),
        p999_ms=percentile(answered, 99.9),
        max_ms=max(answered),
        bad_status=bad,
        socket_errors=max(failed, summary.errored + summary.timeout),
        latencies_ms=answered,
    )


RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


def parse_recap(text: str) -> dict[str, dict[str, int]]:
    """ansible-playbook's PLAY RECAP: {host: {ok, changed, unreachable, failed}}."""
    return {
        m["host"]: {key: int(m[key]) for key in ("ok", "changed", "unreachable", "failed")}
        for m in RECAP.finditer(text)
    }
