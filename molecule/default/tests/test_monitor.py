"""Roles monitor (Prometheus and Alertmanager on mon1) and exporters (every front, app node and
mon1), as site.yml converged them: every target up, the exporters answering the monitor node
and no one else, and an app node's service stopped firing its alert, which reaches
Alertmanager and clears when the service is back. The scenario's windows are short
(molecule.yml: scrape and evaluation every 2 s, alerts after 6 s)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import alert_receiver
from scenario_helpers import run_playbook
from test_firewall import APP_METRICS, FRONT_NAMES, NGINX_EXPORTER, NODE_EXPORTER, reaches

from conftest import APP, MONITOR, address, direct, monitor_api, node

PROJECT = Path(__file__).resolve().parents[3]

APP_NODES = ("app1", "app2")
WATCHED = (*FRONT_NAMES, *APP_NODES, MONITOR)
SITE_CERT = "/etc/ssl/flask-stack/site.crt"  # role tls's tls_cert_path
T = TypeVar("T")


def prometheus(path: str, **params: str) -> object:
    answer = monitor_api(f"http://127.0.0.1:9090/api/v1/{path}", **params)
    assert answer["status"] == "success", answer  # type: ignore[index]
    return answer["data"]  # type: ignore[index]


def query(expr: str) -> set[tuple[str, str]]:
    """Each series of an instant query: its node and value."""
    result = prometheus("query", query=expr)["result"]  # type: ignore[index]
    return {(r["metric"]["node"], r["value"][1]) for r in result}


def wait_for(what: str, probe: Callable[[], T], timeout: float) -> T:
    """Ask `probe` every second until it gives something true; fail naming `what` and its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            assert value, f"{what} within {timeout:.0f} s; last seen: {value!r}"
            return value
        time.sleep(1)


def targets() -> dict[tuple[str, str], str]:
    """Each scraped target's (job, node) and its health."""
    active = prometheus("targets", state="active")["activeTargets"]  # type: ignore[index]
    return {(t["labels"]["job"], t["labels"]["node"]): t["health"] for t in active}


def firing(alert: str) -> list[dict]:
    alerts = prometheus("alerts")["alerts"]  # type: ignore[index]
    return [a for a in alerts if a["labels"]["alertname"] == alert and a["state"] == "firing"]


def test_every_node_and_front_is_scraped_and_up() -> None:
    expected = {("node", name) for name in WATCHED} | {("nginx", name) for name in FRONT_NAMES}
    expected |= {(probe, name) for probe in ("site", "redirect") for name in FRONT_NAMES}  # the blackbox probes
    expected |= {("app", name) for name in APP_NODES}  # the app's own metrics
    expected.add(("prometheus", MONITOR))
    seen = wait_for(
        "every target up",
        lambda: (lambda t: t if set(t) == expected and set(t.values()) == {"up"} else {})(targets()),
        60,
    )
    assert set(seen) == expected
    # The stack's units, by the app's name, reach Prometheus from the node exporters.
    units = f'node_systemd_unit_state{{name="{APP}.service",state="active"}}'
    assert query(units) == {("app1", "1"), ("app2", "1")}
    assert query("nginx_up") == {("front1", "1"), ("front2", "1")}
    rules = {r["name"] for g in prometheus("rules")["groups"] for r in g["rules"]}  # type: ignore[index]
    assert {"NodeDown", "FrontNginxDown", "AppServiceDown", "DiskNearlyFull", "MemoryNearlyFull"} <= rules
    assert {"SiteDown", "RedirectBroken", "CertificateExpiresSoon"} <= rules


def test_the_site_answers_the_probes_through_each_front_with_its_certificate_checked() -> None:
    """The blackbox exporter on mon1 reaches https://flask-stack.localhost/ through each front (the
    scenario's project CA checks the certificate) and its http:// redirect; the days the certificate
    has left are what the front serves."""
    for job in ("site", "redirect"):
        success = wait_for(f"{job} probes succeeding", lambda job=job: query(f'probe_success{{job="{job}"}} == 1'), 30)
        assert {name for name, _ in success} == set(FRONT_NAMES), (job, success)
    days = dict(query('(probe_ssl_earliest_cert_expiry{job="site"} - time()) / 86400'))
    assert set(days) == set(FRONT_NAMES)
    end = node("front1").check_output(f'date -d "$(openssl x509 -noout -enddate -in {SITE_CERT} | cut -d= -f2)" +%s')
    expected = (int(end) - time.time()) / 86400
    assert all(abs(float(left) - expected) < 0.1 for left in days.values()), (days, expected)


def test_each_app_node_s_answers_reach_prometheus_counted_by_endpoint_status_and_release() -> None:
    """Gunicorn's master on each app node serves what its workers counted (requests by endpoint,
    status and release, sign-ins by result, the release served): what Prometheus reads is the
    traffic the node answered."""
    served = {name: json.loads(node("front1").check_output(direct(name)))["release"] for name in APP_NODES}
    expr = 'sum by (node, release) (http_requests_total{job="app", endpoint="views.healthz", status="200"})'
    counted = wait_for(
        "each app node's health checks counted with its release",
        lambda: (lambda seen: seen if {n for n, _ in seen} == set(APP_NODES) else set())(
            {(r["metric"]["node"], r["metric"]["release"]) for r in prometheus("query", query=expr)["result"]}  # type: ignore[index]
        ),
        30,
    )
    assert counted == set(served.items()), (counted, served)
    assert query('app_release_info{job="app"}') >= {(name, "1") for name in APP_NODES}
    results = {r["metric"]["result"] for r in prometheus("query", query="loginapp_sign_ins_total")["result"]}  # type: ignore[index]
    assert {"ok", "failed", "busy", "incomplete"} <= results
    assert not firing("AppErrorsHigh") and not firing("AppSlow")


def test_the_exporters_answer_the_monitor_node_and_no_one_else() -> None:
    for name in WATCHED:
        ports = (NODE_EXPORTER,) + ((NGINX_EXPORTER,) if name in FRONT_NAMES else ())
        ports += (APP_METRICS,) if name in APP_NODES else ()
        other = "front1" if name == "app2" else "app2"  # another node of the cluster
        for port in ports:
            url = f"http://{address(name)}:{port}/metrics"
            assert "# HELP" in node(MONITOR).check_output(f"curl -sS --fail --max-time 5 {url}"), (name, port)
            # Dropped by the node's ruleset: curl gives up (a refused connection would end at once).
            refused = node(other).run(f"curl -sS --max-time 1 -o /dev/null {url}")
            assert refused.rc != 0, f"{other} reached {name}:{port}"
    # Nor the machine that runs the tests.
    assert not reaches(address("front1"), NODE_EXPORTER, timeout=1), "the controller reached front1's node exporter"
    # Prometheus and Alertmanager listen on the monitor node's loopback only.
    assert node("front1").run(f"curl -sS --max-time 2 -o /dev/null http://{address(MONITOR)}:9090/").rc != 0


def received() -> list[dict]:
    """What Alertmanager posted to the receiver on mon1 (monitor_alert_webhook_url, molecule.yml)."""
    return json.loads(
        node(MONITOR).check_output(f"curl -sS --fail --max-time 5 http://127.0.0.1:{alert_receiver.PORT}/")
    )


def test_an_app_service_stopped_fires_its_alert_seen_in_alertmanager_and_status_and_clears_when_back() -> None:
    app1 = node("app1")
    assert not firing("AppServiceDown"), firing("AppServiceDown")
    # The receiver Alertmanager posts to, as the lab runs it (scripts/lab.py).
    node(MONITOR).check_output(alert_receiver.start_command(Path(alert_receiver.__file__).read_text()))
    wait_for(
        "the alert receiver answering",
        lambda: node(MONITOR).run(f"curl -sf http://127.0.0.1:{alert_receiver.PORT}/").rc == 0,
        10,
    )
    app1.check_output(f"systemctl stop {APP}.socket {APP}.service")
    try:
        fired = wait_for("AppServiceDown firing for app1", lambda: firing("AppServiceDown"), 45)
        in_alertmanager = wait_for(
            "the alert in Alertmanager",
            lambda: [
                a
                for a in monitor_api("http://127.0.0.1:9093/api/v2/alerts")
                if a["labels"]["alertname"] == "AppServiceDown"
            ],  # type: ignore[union-attr]
            30,
        )
        status = run_playbook(PROJECT / "playbooks" / "status.yml")
    finally:
        app1.check_output(f"systemctl start {APP}.socket {APP}.service")
    assert status.returncode == 0, status.stdout[-3000:]
    assert "alerts firing (Prometheus on mon1): 1" in status.stdout, status.stdout[-3000:]
    assert f"The app's service {APP}.service is not active on app1" in status.stdout
    assert [a["labels"]["node"] for a in fired] == ["app1"]
    assert fired[0]["annotations"]["summary"] == f"The app's service {APP}.service is not active on app1"
    assert "make logs NODES=app1" in fired[0]["annotations"]["description"]
    assert [a["labels"]["node"] for a in in_alertmanager] == ["app1"]
    wait_for("AppServiceDown cleared", lambda: not firing("AppServiceDown"), 45)
    # Posted to the webhook when it fired, and again once it cleared (send_resolved).
    posted = wait_for(
        "the alert posted firing and resolved",
        lambda: (lambda seen: seen if {"firing", "resolved"} <= {s for s, _ in seen} else set())(
            {(a["status"], a["node"]) for a in received() if a["alertname"] == "AppServiceDown"}
        ),
        30,
    )
    assert posted == {("firing", "app1"), ("resolved", "app1")}, posted
