"""Bounded loads: wrk (HTTP/1.1) and h2load (HTTP/2), on the controller or inside a node."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .lab import Node, node_run
from .limits import GeneratorRun, generator_limit, h2load_run, next_round
from .parse import H2Summary, Load, h2load_rounds_load, parse_h2load, parse_h2load_log, parse_wrk

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_report.lua"
NODE_WRK_SCRIPT = "/tmp/flask-stack-bench-wrk.lua"
# A load never runs longer than its duration plus this (connect, TLS, the last answers).
GRACE_S = 30
# An HTTP/2 load is at most this many h2load runs in a row (see bench/limits.py).
H2_MAX_ROUNDS = 100


@dataclass(frozen=True)
class Shape:
    """The bounds of every load: seconds, connections, threads, per-request timeout."""

    duration_s: int = 8
    connections: int = 8
    threads: int = 2
    timeout_s: int = 5


def wrk_argv(url: str, shape: Shape, script: str) -> list[str]:
    return [
        "wrk",
        f"-t{shape.threads}",
        f"-c{shape.connections}",
        f"-d{shape.duration_s}s",
        f"--timeout={shape.timeout_s}s",
        "--latency",
        "-s",
        script,
        url,
    ]


def hosts_file(names: dict[str, str]) -> str:
    """/etc/hosts text that resolves each name to its address (and localhost as usual)."""
    lines = ["127.0.0.1 localhost", "::1 localhost"]
    lines += [f"{address} {name}" for name, address in names.items()]
    return "\n".join(lines) + "\n"


def wrk_local(url: str, shape: Shape, connect: list[str], names: dict[str, str]) -> Load:
    """wrk on the controller. The URL's name resolves to its front's address in wrk's own mount
    namespace (a private /etc/hosts: wrk has no --resolve); thread i connects to connect[i % n]."""
    with tempfile.NamedTemporaryFile("w", prefix="bench-hosts-", suffix=".txt") as hosts:
        hosts.write(hosts_file(names))
        hosts.flush()
        argv = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            'mount --bind "$0" /etc/hosts && exec "$@"',
            hosts.name,
            *wrk_argv(url, shape, str(WRK_SCRIPT)),
        ]
        env = {**os.environ, "BENCH_CONNECT": ",".join(connect)}
        result = subprocess.run(
            argv, capture_output=True, text=True, env=env, check=False, timeout=shape.duration_s + GRACE_S
        )
    if result.returncode != 0:
        raise RuntimeError(f"wrk {url} exited {result.returncode}: {(result.stderr or result.stdout).strip()[-500:]}")
    return with_wrk_limit(parse_wrk(result.stdout), shape)


def with_wrk_limit(load: Load, shape: Shape) -> Load:
    """wrk runs for its duration and opens a new connection for every one the server closes: the
    only limit of its own it can hit is ending early."""
    load.limit = generator_limit(GeneratorRun("wrk", shape.duration_s, load.duration_s, load.requests))
    return load


def wrk_on_node(node: Node, url: str, shape: Shape) -> Load:
    """wrk inside a node (loopback loads: the node's firewall and socket let in nothing else)."""
    node_run(node, ["sh", "-c", f"cat > {NODE_WRK_SCRIPT}"], stdin=WRK_SCRIPT.read_text())
    result = node_run(node, wrk_argv(url, shape, NODE_WRK_SCRIPT), timeout=shape.duration_s + GRACE_S, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"wrk {url} on {node.name} exited {result.returncode}: {(result.stderr or result.stdout).strip()[-500:]}"
        )
    return with_wrk_limit(parse_wrk(result.stdout), shape)


def h2load_argv(
    url: str, shape: Shape, connect: str, requests: int, log: Path, rps_per_client: int | None = None
) -> list[str]:
    """One h2load round: ``requests`` in all over ``shape.connections`` HTTP/2 connections, one
    stream each (-m1), one thread; count mode (-n), never -D (see bench/limits.py)."""
    return [
        "h2load",
        f"--connect-to={connect}",
        f"-c{shape.connections}",
        "-t1",
        "-m1",
        f"-n{requests}",
        f"-N{shape.timeout_s}",
        f"--log-file={log}",
        *([f"--rps={rps_per_client}"] if rps_per_client else []),
        url,
    ]


H2Round = tuple[int | None, H2Summary, list[tuple[int, int, int]]]


def h2load_round(
    argv: list[str], log: Path, what: str, timeout_s: float
) -> tuple[H2Summary, list[tuple[int, int, int]]]:
    """Run one h2load round: its summary and its per-request log."""
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout_s)
    if result.returncode != 0 or not log.is_file():
        raise RuntimeError(f"{what} exited {result.returncode}: {(result.stderr or result.stdout).strip()[-500:]}")
    return parse_h2load(result.stdout), parse_h2load_log(log.read_text())


def h2load_local(url: str, shape: Shape, connect: str, *, rps_per_client: int | None = None) -> Load:
    """h2load (HTTP/2 over TLS, one stream per connection) from the controller to one front's address,
    in rounds of at most limits.H2_REQUESTS_PER_CONNECTION requests per connection (the front closes
    a connection after 1000 and h2load would not open another) until the duration is spent; the
    percentiles come from the rounds' per-request logs. With rps_per_client, every connection sends
    at that rate. The load's limit says so when a round did fewer requests than it asked."""
    what = f"h2load {url} (to {connect} as {urlsplit(url).hostname or ''})"
    deadline = time.monotonic() + shape.duration_s + GRACE_S
    rounds: list[H2Round] = []
    with tempfile.TemporaryDirectory(prefix="bench-h2load-") as tmp:
        while len(rounds) < H2_MAX_ROUNDS and time.monotonic() < deadline:
            elapsed = sum(summary.duration_s for _asked, summary, _rows in rounds)
            done = sum(summary.done for _asked, summary, _rows in rounds)
            requests = next_round(shape.duration_s, elapsed, done, shape.connections, rps_per_client=rps_per_client)
            if requests <= 0:
                break
            log = Path(tmp) / f"requests-{len(rounds) + 1}.tsv"
            argv = h2load_argv(url, shape, connect, requests, log, rps_per_client)
            summary, rows = h2load_round(argv, log, what, deadline - time.monotonic())
            rounds.append((requests, summary, rows))
            if summary.done < requests:  # its clients stopped early: more rounds would not measure the stack
                break
    if not rounds:
        raise RuntimeError(f"{what}: no round ran (duration {shape.duration_s} s)")
    load = h2load_rounds_load([(summary, rows) for _asked, summary, rows in rounds])
    asked_rps = rps_per_client * shape.connections if rps_per_client else None
    load.limit = generator_limit(h2load_run(rounds, shape.duration_s, asked_rps))
    return load
