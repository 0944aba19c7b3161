"""The HTTP rows, measured side by side in one run, with the CPU each tier spent per request."""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from . import appnode
from .cpu import Reading, read_cpu
from .lab import Lab, Node
from .loads import Shape, h2load_local, wrk_local, wrk_on_node
from .parse import Load
from .stats import cpu_us_per_request, ratio

NGINX_UNIT = "nginx.service"
PATHS = ("/", "/healthz")
STATIC_LINK = re.compile(r"""["'](/static/[^"'?#]+)""")
FIXED_RATE_SHARE = 0.7


@dataclass
class Row:
    """One measured setup."""

    key: str
    setup: str
    path: str
    protocol: str
    tool: str
    load: Load
    front_us: float | None = None
    app_us: float | None = None
    ratio: float | None = None
    cpu_sources: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        load = self.load
        return {
            "key": self.key,
            "setup": self.setup,
            "path": self.path,
            "protocol": self.protocol,
            "tool": self.tool,
            "requests": load.requests,
            "duration_s": round(load.duration_s, 3),
            "rps": round(load.rps, 1),
            "p50_ms": round(load.p50_ms, 3),
            "p90_ms": round(load.p90_ms, 3),
            "p99_ms": round(load.p99_ms, 3),
            "p999_ms": round(load.p999_ms, 3),
            "max_ms": round(load.max_ms, 3),
            "bad_status": load.bad_status,
            "socket_errors": load.socket_errors,
            "ratio_to_devserver": None if self.ratio is None else round(self.ratio, 3),
            "front_cpu_us_per_request": None if self.front_us is None else round(self.front_us, 1),
            "app_cpu_us_per_request": None if self.app_us is None else round(self.app_us, 1),
            "cpu_sources": self.cpu_sources,
            "generator_runs": load.rounds,
            "limit": load.limit,
        }


@dataclass
class FixedRate:
    target_rps: float
    rps_per_client: int
    row: Row


@dataclass
class HttpResult:
    rows: list[Row]
    fixed_rate: FixedRate | None
    static_path: str


class CheckFailed(Exception):
    pass


def curl_status(lab: Lab, front: Node, scheme: str, path: str) -> tuple[int, str]:
    """GET through a front by the site's name, TLS verified against the lab's CA file."""
    port = 443 if scheme == "https" else 80
    with tempfile.NamedTemporaryFile() as body:
        result = subprocess.run(
            [
                "curl",
                "-sS",
                "--max-time",
                "10",
                "--cacert",
                str(lab.ca_file),
                "--resolve",
                f"{lab.site_name}:{port}:{front.address}",
                "-o",
                body.name,
                "-w",
                "%{http_code}",
                f"{scheme}://{lab.site_name}{path}",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if result.returncode != 0:
            raise CheckFailed(f"curl {scheme}://{lab.site_name}{path} via {front.name}: {result.stderr.strip()}")
        return int(result.stdout), Path(body.name).read_text(errors="replace")


def preflight(lab: Lab) -> str:
    """Every front answers /, /healthz, a static file and the redirect, TLS verified; the static path."""
    status, page = curl_status(lab, lab.fronts[0], "https", "/")
    links = STATIC_LINK.findall(page)
    if status != 200 or not links:
        raise CheckFailed(f"GET / via {lab.fronts[0].name} answered {status} with no /static/ link")
    static = links[0]
    for front in lab.fronts:
        for scheme, path, expected in [("https", "/", 200), ("https", "/healthz", 200), ("https", static, 200)]:
            got, _ = curl_status(lab, front, scheme, path)
            if got != expected:
                raise CheckFailed(
                    f"GET {scheme}://{lab.site_name}{path} via {front.name} answered {got}, not {expected}"
                )
        got, _ = curl_status(lab, front, "http", "/")
        if got not in (301, 308):
            raise CheckFailed(f"GET http://{lab.site_name}/ via {front.name} answered {got}, not a redirect")
    return static


class Meter:
    """CPU counters of every front's Nginx and every app node's service, around one load."""

    def __init__(self, lab: Lab, app_unit: str) -> None:
        self.lab = lab
        self.app_unit = app_unit

    def read(self, extra_app_unit: str | None = None) -> dict[str, dict[str, Reading]]:
        readings = {f.name: read_cpu(f, [NGINX_UNIT]) for f in self.lab.fronts}
        for app in self.lab.apps:
            units = [self.app_unit, *([extra_app_unit] if extra_app_unit and app == self.lab.apps[0] else [])]
            readings[app.name] = read_cpu(app, units)
        return readings

    def per_request(
        self,
        before: dict[str, dict[str, Reading]],
        after: dict[str, dict[str, Reading]],
        requests: int,
        app_units: list[str],
    ) -> tuple[float | None, float | None, dict[str, str]]:
        """(front µs/request, app µs/request, where each counter came from), summed over each tier."""

        def tier(nodes: list[Node], units: list[str]) -> float | None:
            total_ns = 0
            for node in nodes:
                for unit in units:
                    b, a = before[node.name].get(unit), after[node.name].get(unit)
                    if b is None or a is None or b.ns is None or a.ns is None:
                        continue
                    total_ns += a.ns - b.ns
            try:
                return cpu_us_per_request(0, total_ns, requests)
            except ValueError:  # a counter went backwards: a service restarted during the load
                return None

        sources = {f"{n}:{u}": r.source for n, units in after.items() for u, r in units.items()}
        return tier(self.lab.fronts, [NGINX_UNIT]), tier(self.lab.apps, app_units), sources


class Runner:
    """Runs one load at a time between two readings of the CPU counters, and makes it a Row."""

    def __init__(self, lab: Lab, service: appnode.AppService, say: Callable[[str], None]) -> None:
        self.meter = Meter(lab, service.unit)
        self.service = service
        self.say = say

    def run(
        self,
        key: str,
        setup: str,
        path: str,
        protocol: str,
        tool: str,
        load_fn: Callable[[], Load],
        *,
        unit: str | None = None,
        front: bool = True,
        app: bool = True,
    ) -> Row:
        """unit: the app tier's unit (on the first app node) instead of the service on every app node."""
        before = self.meter.read(unit)
        load = load_fn()
        after = self.meter.read(unit)
        front_us, app_us, sources = self.meter.per_request(before, after, load.requests, [unit or self.service.unit])
        front_us, app_us = front_us if front else None, app_us if app else None
        row = Row(key, setup, path, protocol, tool, load, front_us, app_us, cpu_sources=sources)
        self.say(
            f"{setup:<44} {path:<22} {load.rps:9.1f} req/s  p50 {load.p50_ms:7.2f} ms  p99 {load.p99_ms:7.2f} ms"
            f"  errors {load.bad_status}/{load.socket_errors}" + (f"  LIMITED: {load.limit}" if load.limit else "")
        )
        time.sleep(1)
        return row


def front1_h1(lab: Lab, path: str, shape: Shape) -> Callable[[], Load]:
    """The HTTP/1.1 load through front1, by the site's name."""
    front1 = lab.fronts[0]
    url = f"https://{lab.site_name}{path}"
    return lambda: wrk_local(url, shape, [f"{front1.address}:443"], {lab.site_name: front1.address})


def measure(lab: Lab, services: dict[str, appnode.AppService], shape: Shape, say: Callable[[str], None]) -> HttpResult:
    app1, front1 = lab.apps[0], lab.fronts[0]
    service = services[app1.name]
    say(f"{app1.name}: {service.unit} CPUQuota={service.cpu_quota_pct}% {service.settings}")
    static = preflight(lab)
    say(f"preflight: every front answers /, /healthz, {static} (TLS verified with {lab.ca_file}) and redirects :80")
    say(f"wrk on {app1.name}: {appnode.ensure_wrk(app1)}")
    runner = Runner(lab, service, say)
    rows: list[Row] = []
    site = lab.site_name
    front_connect = [f"{front1.address}:443"]
    quota = f"CPUQuota={service.cpu_quota_pct}%" if service.cpu_quota_pct else "no CPUQuota"
    # The loopback rows: beside the service, at its CPU allowance, each server in plain HTTP (the
    # service itself speaks only mutual TLS, which wrk cannot: it has no client certificate).
    beside = [
        ("devserver", f"Flask dev server, {app1.name} loopback ({quota})", appnode.DEV_UNIT, appnode.start_devserver),
        (
            "gunicorn",
            f"Gunicorn, service's config without TLS, {app1.name} loopback ({quota})",
            appnode.GUNICORN_UNIT,
            appnode.start_gunicorn,
        ),
    ]
    for name, setup, unit, start in beside:
        port = appnode.free_port(app1)
        start(app1, service, port)
        try:
            for path in PATHS:
                load_fn = partial(wrk_on_node, app1, f"http://127.0.0.1:{port}{path}", shape)
                key, cpu_unit = f"{name} {path}", f"{unit}.service"
                rows.append(runner.run(key, setup, path, "HTTP/1.1", "wrk", load_fn, unit=cpu_unit, front=False))
        finally:
            appnode.stop(app1, unit)
    for path in PATHS:
        h1, h2 = front1_h1(lab, path, shape), partial(h2load_local, f"https://{site}{path}", shape, front_connect[0])
        rows.append(runner.run(f"front1-h1 {path}", f"{front1.name} HTTPS, HTTP/1.1", path, "HTTP/1.1", "wrk", h1))
        rows.append(runner.run(f"front1-h2 {path}", f"{front1.name} HTTPS, HTTP/2", path, "HTTP/2", "h2load", h2))
        if len(lab.fronts) > 1:
            both = lab.fronts[:2]
            two = Shape(shape.duration_s, shape.connections, 2, shape.timeout_s)
            connect = [f"{f.address}:443" for f in both]
            load_fn = partial(wrk_local, f"https://{site}{path}", two, connect, {site: front1.address})
            setup = f"{both[0].name} + {both[1].name} at once, HTTPS, HTTP/1.1"
            rows.append(runner.run(f"fronts-h1 {path}", setup, path, "HTTP/1.1", "wrk", load_fn))
    setup = f"{front1.name} HTTPS, static file"
    rows.append(runner.run("static", setup, static, "HTTP/1.1", "wrk", front1_h1(lab, static, shape), app=False))
    load_fn = partial(wrk_local, f"http://{site}/", shape, [f"{front1.address}:80"], {site: front1.address})
    setup = f"{front1.name} :80, 301 to HTTPS (no app)"
    rows.append(runner.run("ceiling", setup, "/", "HTTP/1.1", "wrk", load_fn, app=False))
    # A row whose generator hit its own limit has no req/s of the stack: no ratio, no base, no peak.
    measured = [r for r in rows if not r.load.limit]
    bases = {r.path: r.load.rps for r in measured if r.key.startswith("devserver")}
    for row in measured:
        row.ratio = ratio(row.load.rps, bases.get(row.path, bases.get("/")))
    fixed = None
    peak = max((r.load.rps for r in measured if r.key in ("front1-h1 /", "front1-h2 /")), default=0.0)
    if peak > 0:
        target = peak * FIXED_RATE_SHARE
        per_client = max(1, round(target / shape.connections))
        fixed_shape = Shape(max(shape.duration_s, 10), shape.connections, 1, shape.timeout_s)
        load_fn = partial(h2load_local, f"https://{site}/", fixed_shape, front_connect[0], rps_per_client=per_client)
        setup = f"{front1.name} HTTPS, HTTP/2, fixed rate {per_client * shape.connections} req/s"
        row = runner.run("fixed-rate /", setup, "/", "HTTP/2", "h2load --rps", load_fn)
        fixed = FixedRate(target, per_client, row)
    return HttpResult(rows, fixed, static)
