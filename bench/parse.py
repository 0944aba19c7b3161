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
    limit: str | None = None  # set when the generator hit a limit of its own (bench/limits.py)
    rounds: int = 1  # runs of the generator that make up the load

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
    total: int  # the requests asked (-n), or all it started in a duration mode
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
        total=int(requests[1]),
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
    return h2load_rounds_load([(parse_h2load(summary_text), parse_h2load_log(log_text))])


def h2load_rounds_load(rounds: list[tuple[H2Summary, list[tuple[int, int, int]]]]) -> Load:
    """One Load from one or more h2load runs in a row: their requests and times added up, the
    percentiles over every answer of their logs."""
    if not rounds:
        raise ValueError("no h2load run")
    rows = [row for _summary, round_rows in rounds for row in round_rows]
    answered = [us / 1000 for _start, status, us in rows if status > 0]
    if not answered:
        raise ValueError("h2load's log has no answered request")
    bad = sum(1 for _start, status, _us in rows if status > 0 and not 200 <= status < 400)
    failed = sum(1 for _start, status, _us in rows if status < 0)
    return Load(
        requests=len(answered),
        duration_s=sum(summary.duration_s for summary, _rows in rounds),
        p50_ms=percentile(answered, 50),
        p90_ms=percentile(answered, 90),
        p99_ms=percentile(answered, 99),
        p999_ms=percentile(answered, 99.9),
        max_ms=max(answered),
        bad_status=bad,
        socket_errors=max(failed, sum(summary.errored + summary.timeout for summary, _rows in rounds)),
        latencies_ms=answered,
        rounds=len(rounds),
    )


RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)(?:\s+skipped=(?P<skipped>\d+))?(?:\s+rescued=(?P<rescued>\d+))?"
    r"(?:\s+ignored=(?P<ignored>\d+))?",
    re.MULTILINE,
)
RECAP_KEYS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
TASK_HEADER = re.compile(r"^(?:TASK|RUNNING HANDLER) \[", re.MULTILINE)


def parse_recap(text: str) -> dict[str, dict[str, int]]:
    """ansible-playbook's PLAY RECAP: {host: {ok, changed, unreachable, failed}}."""
    return {
        m["host"]: {key: int(m[key]) for key in ("ok", "changed", "unreachable", "failed")}
        for m in RECAP.finditer(text)
    }


def recap_totals(text: str) -> dict[str, int]:
    """Every PLAY RECAP line of a run's output added up (a run of several playbooks has several
    recaps): ok, changed, unreachable, failed, skipped, rescued, ignored."""
    totals = dict.fromkeys(RECAP_KEYS, 0)
    for match in RECAP.finditer(text):
        for key in RECAP_KEYS:
            totals[key] += int(match[key] or 0)
    return totals


def tasks_run(totals: dict[str, int]) -> int:
    """The task results over all hosts from recap_totals: ok + failed + skipped + rescued (Ansible's
    ok already counts the changed and the ignored ones; a task run on 4 hosts counts 4)."""
    return totals["ok"] + totals["failed"] + totals["skipped"] + totals["rescued"]


def task_headers(text: str) -> int:
    """TASK and RUNNING HANDLER headers in the output: the tasks that ran on at least one host."""
    return len(TASK_HEADER.findall(text))
