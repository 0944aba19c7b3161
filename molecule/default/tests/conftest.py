"""A user's view of the cluster: HTTPS through the published fronts, verified with the CA file."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
# The project's scripts (alert_receiver.py, which test_monitor starts on mon1 as the lab does).
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))

SITE = "flask-stack.localhost"
EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
CA_FILE = EPHEMERAL / "tls" / "ca.crt"
FRONTS = {"front1": (18080, 18443), "front2": (18081, 18444)}
# The scenario's app_name and app_root (molecule.yml), which are not role app's defaults.
APP = "flaskapp"
APP_ROOT = "/srv/flaskapp"
APP_CONFIG_DIR = f"/etc/{APP}"


def address(name: str) -> str:
    """A node's IPv4 address on the scenario's Docker network, as the controller reaches it."""
    out = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(out) == 1, f"{name} should be on one network: {out}"
    return out[0]


# Role tls's files for mutual TLS between the nodes (entry point peer), and the name every app
# node's certificate carries (tls_peer_service_name), which the fronts check.
PEER_CERT, PEER_KEY, PEER_CA = (f"/etc/ssl/flask-stack/{name}" for name in ("peer.crt", "peer.key", "peer-ca.crt"))
APP_SERVICE_NAME = "app.flask-stack.internal"
APP_PORT = 8000


def direct(app: str, path: str = "/healthz", *, cert: bool = True) -> str:
    """A curl command, for a front, that asks an app node directly as the front's health checks do:
    the front's certificate, the app node's checked against the internal CA and for the name the
    fronts check. Prints the body; with `cert=False` it offers no client certificate."""
    client = f" --cert {PEER_CERT} --key {PEER_KEY}" if cert else ""
    return (
        f"curl -sS --max-time 3 --cacert {PEER_CA}{client} --resolve {APP_SERVICE_NAME}:{APP_PORT}:{address(app)}"
        f" https://{APP_SERVICE_NAME}:{APP_PORT}{path}"
    )


def node(name: str):
    """A Testinfra host for one node of the scenario (commands run as root through sudo)."""
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


MONITOR = "mon1"  # role monitor's node: Prometheus and Alertmanager on its loopback


def monitor_api(url: str, **params: str) -> object:
    """A JSON answer of Prometheus's or Alertmanager's API on the monitor node, asked there."""
    encoded = "".join(f" --data-urlencode {shlex.quote(f'{k}={v}')}" for k, v in params.items())
    return json.loads(node(MONITOR).check_output(f"curl -sS --fail --max-time 5 -G{encoded} {shlex.quote(url)}"))


def alerts_fired_between(start: float, end: float) -> list[str]:
    """Every alert Prometheus had firing at some time from `start` to `end` (epoch seconds), as '<alert> on <node>'."""
    answer = monitor_api(
        "http://127.0.0.1:9090/api/v1/query_range",
        query='ALERTS{alertstate="firing"}',
        start=f"{start:.3f}",
        end=f"{end:.3f}",
        step="1s",
    )
    assert answer["status"] == "success", answer  # type: ignore[index]
    series = answer["data"]["result"]  # type: ignore[index]
    return sorted(f"{s['metric']['alertname']} on {s['metric'].get('node', '?')}" for s in series)


@dataclass
class Response:
    status: int
    headers: dict[str, list[str]]
    body: str

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), [""])[-1]


class Browser:
    """curl with a cookie jar, the CA file and nothing else: no -k, ever."""

    def __init__(self, jar: Path) -> None:
        self.jar = jar

    def request(self, url: str, *args: str) -> Response:
        head, body = self.jar.with_suffix(".head"), self.jar.with_suffix(".body")
        cmd = ["curl", "-sS", "--max-time", "10", "--cacert", str(CA_FILE), "-b", str(self.jar), "-c", str(self.jar)]
        cmd += ["-D", str(head), "-o", str(body), *args, url]
        subprocess.run(cmd, capture_output=True, text=True, check=True)
        lines = head.read_text().splitlines()
        status = int(lines[0].split()[1])
        headers: dict[str, list[str]] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers.setdefault(name.strip().lower(), []).append(value.strip())
        return Response(status, headers, body.read_text(errors="replace"))

    def login(self, base: str, username: str, password: str) -> Response:
        form = self.request(base)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.body)
        assert token, "the Sign In form has no CSRF token"
        return self.request(
            base,
            "-H", f"Referer: {base}",
            "--data-urlencode", f"csrf_token={token.group(1)}",
            "--data-urlencode", f"username={username}",
            "--data-urlencode", f"password={password}",
        )  # fmt: skip


def https_url(front: str, path: str = "/") -> str:
    return f"https://{SITE}:{FRONTS[front][1]}{path}"


def http_url(front: str, path: str = "/") -> str:
    return f"http://{SITE}:{FRONTS[front][0]}{path}"


@pytest.fixture
def browser(tmp_path: Path) -> Browser:
    return Browser(tmp_path / "cookies.txt")


@pytest.fixture(scope="session")
def demo_password() -> str:
    return (EPHEMERAL / "secrets" / "demo_password").read_text().strip()
