"""Bounded loads: wrk (HTTP/1.1) and h2load (HTTP/2), on the controller or inside a node."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .lab import Node, node_run
from .parse import Load, h2load_load, parse_wrk

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_report.lua"
NODE_WRK_SCRIPT = "/tmp/flask-stack-bench-wrk.lua"
# A load never runs longer than its duration plus this (connect, TLS, the last answers).
GRACE_S = 30


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
    return parse_wrk(result.stdout)


def wrk_on_node(node: Node, url: str, shape: Shape) -> Load:
    """wrk inside a node (loopback loads: the node's firewall and socket let in nothing else)."""
    node_run(node, ["sh", "-c", f"cat > {NODE_WRK_SCRIPT}"], stdin=WRK_SCRIPT.read_text())
    result = node_run(node, wrk_argv(url, shape, NODE_WRK_SCRIPT), timeout=shape.duration_s + GRACE_S, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"wrk {url} on {node.name} exited {result.returncode}: {(result.stderr or result.stdout).strip()[-500:]}"
        )
    return parse_wrk(result.stdout)


def h2load_local(url: str, shape: Shape, connect: str, *, rps_per_client: int | None = None) -> Load:
    """h2load (HTTP/2 over TLS, one stream per connection) from the controller to one front's address;
    percentiles come from its per-request log. With rps_per_client, every connection sends at that rate."""
    host = urlsplit(url).hostname or ""
    with tempfile.TemporaryDirectory(prefix="bench-h2load-") as tmp:
        log = Path(tmp) / "requests.tsv"
        argv = [
            "h2load",
            f"--connect-to={connect}",
            f"-c{shape.connections}",
            "-t1",
            "-m1",
            f"-D{shape.duration_s}",
            f"-N{shape.timeout_s}",
            f"--log-file={log}",
            *([f"--rps={rps_per_client}"] if rps_per_client else []),
            url,
        ]
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=shape.duration_s + GRACE_S)
        if result.returncode != 0 or not log.is_file():
            raise RuntimeError(
                f"h2load {url} (to {connect} as {host}) exited {result.returncode}: "
                f"{(result.stderr or result.stdout).strip()[-500:]}"
            )
        return h2load_load(result.stdout, log.read_text())
