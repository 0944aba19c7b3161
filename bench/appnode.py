"""An app node as deployed (the unit's settings, Gunicorn's), its load generator, and the
servers started beside the service at the same CPU allowance: Flask's development server, and a
second Gunicorn with the service's settings but plain HTTP (the service speaks only mutual TLS)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from .lab import Node, node_run, unit_properties
from .stats import quota_percent

DEV_UNIT = "flask-stack-bench-devserver"
GUNICORN_UNIT = "flask-stack-bench-gunicorn"
EXEC_PATH = re.compile(r"path=(\S+)")
CONF_SETTING = re.compile(r"^(workers|threads|worker_class|wsgi_app|certfile)\s*=\s*\"?([^\"\n]+)\"?\s*$", re.MULTILINE)
LISTEN_PORT = re.compile(r":(\d+) \(Stream\)")
CONF_FILE = re.compile(r"--config[= ](\S+)")
PROBE_URL = (
    "import sys, urllib.request\n"
    "try:\n"
    "    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)\n"
    "except Exception as exc:\n"
    "    print(getattr(exc, 'code', 0))\n"
)


@dataclass(frozen=True)
class AppService:
    """What the node's <app>.service runs, read from systemd and Gunicorn's config."""

    unit: str
    user: str
    group: str
    working_directory: str
    environment_files: list[str]
    venv_bin: str
    config_file: str  # Gunicorn's --config
    cpu_quota_pct: int | None
    cpu_quota_period: str  # CPUQuotaPeriodSec=, "" for systemd's default
    port: int
    settings: dict[str, str]  # workers, threads, worker_class, wsgi_app, certfile from gunicorn.conf.py

    @property
    def tls(self) -> bool:
        """Does the service speak (mutual) TLS: has its config a certificate?"""
        return bool(self.settings.get("certfile"))

    def as_json(self) -> dict[str, object]:
        return {
            "unit": self.unit,
            "cpu_quota_pct": self.cpu_quota_pct,
            "cpu_quota_period": self.cpu_quota_period or "default",
            "port": self.port,
            "workers": self.settings.get("workers"),
            "threads": self.settings.get("threads"),
            "worker_class": self.settings.get("worker_class"),
            "wsgi_app": self.settings.get("wsgi_app"),
            "tls": self.tls,
        }


def read_app_service(node: Node, app_name: str) -> AppService:
    unit = f"{app_name}.service"
    props = unit_properties(
        node,
        unit,
        [
            "User",
            "Group",
            "WorkingDirectory",
            "EnvironmentFiles",
            "ExecStart",
            "CPUQuotaPerSecUSec",
            "CPUQuotaPeriodUSec",
            "ActiveState",
        ],
    )
    if props.get("ActiveState") != "active":
        raise RuntimeError(f"{node.name}: {unit} is {props.get('ActiveState') or 'unknown'}, not active")
    exec_path = EXEC_PATH.search(props.get("ExecStart", ""))
    config = CONF_FILE.search(props.get("ExecStart", ""))
    if not exec_path or not config:
        raise RuntimeError(f"{node.name}: cannot read the Gunicorn command of {unit}: {props.get('ExecStart')!r}")
    conf_text = node_run(node, ["cat", config[1]]).stdout
    listen = unit_properties(node, f"{app_name}.socket", ["Listen"]).get("Listen", "")
    port = LISTEN_PORT.search(listen)
    if not port:
        raise RuntimeError(f"{node.name}: cannot read the port of {app_name}.socket: {listen!r}")
    return AppService(
        unit=unit,
        user=props["User"],
        group=props["Group"],
        working_directory=props["WorkingDirectory"].lstrip("!-"),
        environment_files=[f.split(" (", 1)[0] for f in props.get("EnvironmentFiles", "").split("\n") if f],
        venv_bin=exec_path[1].rsplit("/", 1)[0],
        config_file=config[1],
        cpu_quota_pct=quota_percent(props.get("CPUQuotaPerSecUSec", "")),
        cpu_quota_period=""
        if props.get("CPUQuotaPeriodUSec", "infinity") == "infinity"
        else props["CPUQuotaPeriodUSec"],
        port=int(port[1]),
        settings={m[1]: m[2].strip() for m in CONF_SETTING.finditer(conf_text)},
    )


def http_status(node: Node, url: str) -> int:
    """The status a GET of url answers on the node (0 when nothing answers)."""
    return int(node_run(node, ["python3", "-c", PROBE_URL, url], timeout=15).stdout.strip() or 0)


def ensure_wrk(node: Node) -> str:
    """wrk on the node from Debian, through the node's own apt sources; says what it did."""
    if node_run(node, ["sh", "-c", "command -v wrk"], check=False).returncode == 0:
        return "present"
    install = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", "--no-install-recommends"]
    if node_run(node, [*install, "wrk"], timeout=300, check=False).returncode != 0:
        node_run(node, ["apt-get", "update", "-qq"], timeout=300)
        node_run(node, [*install, "wrk"], timeout=300)
    return "installed from the node's apt sources"


def free_port(node: Node, start: int = 18001) -> int:
    """A TCP port nothing listens on, on the node."""
    out = node_run(node, ["ss", "-Htln"]).stdout
    used = {int(m[1]) for m in re.finditer(r":(\d+)\s", out)}
    return next(p for p in range(start, start + 1000) if p not in used)


def start_transient(node: Node, app: AppService, unit: str, port: int, argv: list[str], timeout_s: float = 30) -> None:
    """argv (its first item a program of the current release's venv/bin) as the app's user with its
    environment, under a transient unit with the service's CPUQuota (and its period), until
    GET http://127.0.0.1:port/healthz answers 200."""
    release_dir = node_run(node, ["readlink", "-f", app.working_directory]).stdout.strip()
    props = [
        f"User={app.user}",
        f"Group={app.group}",
        f"WorkingDirectory={release_dir}",
        *[f"EnvironmentFile={f}" for f in app.environment_files],
        f"RuntimeDirectory={unit}",
        "CPUAccounting=yes",
        *([f"CPUQuota={app.cpu_quota_pct}%"] if app.cpu_quota_pct else []),
        *([f"CPUQuotaPeriodSec={app.cpu_quota_period}"] if app.cpu_quota_period else []),
        f"RuntimeMaxSec={600}",  # a bench that dies never leaves it running for long
    ]
    stop(node, unit)
    command = [f"{release_dir}/venv/bin/{argv[0]}", *argv[1:]]
    node_run(
        node, ["systemd-run", f"--unit={unit}", "--collect", "--quiet", *[f"--property={p}" for p in props], *command]
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if http_status(node, f"http://127.0.0.1:{port}/healthz") == 200:
            return
        time.sleep(0.5)
    journal = node_run(node, ["journalctl", "-u", unit, "-n", "20", "--no-pager"], check=False).stdout
    stop(node, unit)
    raise RuntimeError(f"{node.name}: {unit} did not answer in {timeout_s:.0f} s:\n{journal}")


def start_devserver(node: Node, app: AppService, port: int) -> None:
    """Flask's development server (threaded) on 127.0.0.1:port."""
    wsgi_app = app.settings.get("wsgi_app", "loginapp.wsgi:app")
    argv = ["python", "-m", "flask", "--app", wsgi_app, "run", "--host=127.0.0.1", f"--port={port}"]
    start_transient(node, app, DEV_UNIT, port, [*argv, "--with-threads", "--no-reload", "--no-debugger"])


def start_gunicorn(node: Node, app: AppService, port: int) -> None:
    """Gunicorn with the service's config file (workers, threads, timeouts, max_requests), on
    127.0.0.1:port in plain HTTP: its command line empties the TLS files and moves what the
    service's instance owns (its socket, its runtime directory, its control socket) aside."""
    start_transient(
        node,
        app,
        GUNICORN_UNIT,
        port,
        [
            "gunicorn",
            f"--config={app.config_file}",
            f"--bind=127.0.0.1:{port}",
            "--certfile=",
            "--keyfile=",
            "--ca-certs=",
            f"--worker-tmp-dir=/run/{GUNICORN_UNIT}",
            "--no-control-socket",
            f"--name={GUNICORN_UNIT}",
        ],
    )


def stop(node: Node, unit: str) -> None:
    node_run(node, ["systemctl", "stop", f"{unit}.service"], check=False)
