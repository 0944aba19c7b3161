"""scripts/alert_receiver.py, the webhook receiver the lab and scenario default run on the
monitor node: what it keeps of Alertmanager's posts, what it refuses, and the command that
installs and starts it."""

from __future__ import annotations

import http.client
import json
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import alert_receiver
import pytest

# Alertmanager's webhook body (version 4), trimmed to what the receiver reads, with its own noise.
NOTIFICATION = {
    "version": "4",
    "status": "firing",
    "receiver": "webhook",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "AppServiceDown", "node": "app1", "severity": "critical"},
            "annotations": {"summary": "The app's service loginapp.service is not active on app1"},
            "startsAt": "2026-12-08T04:00:00Z",
        },
        {"status": "resolved", "labels": {"alertname": "NodeDown", "node": "front2"}, "annotations": {}},
    ],
}


@pytest.fixture
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), alert_receiver.Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    alert_receiver._kept.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(f"{url}/alerts", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def kept(url: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/", timeout=5) as answer:
        return json.loads(answer.read())


def test_each_alert_of_a_post_is_kept_with_its_status_name_node_and_summary(url: str) -> None:
    assert post(url, json.dumps(NOTIFICATION).encode()) == 200
    got = kept(url)
    assert [{k: v for k, v in alert.items() if k != "received"} for alert in got] == [
        {
            "status": "firing",
            "alertname": "AppServiceDown",
            "node": "app1",
            "summary": "The app's service loginapp.service is not active on app1",
        },
        {"status": "resolved", "alertname": "NodeDown", "node": "front2", "summary": ""},
    ]
    assert all(isinstance(alert["received"], float) for alert in got)


def test_a_post_that_is_not_a_notification_is_refused_and_keeps_nothing(url: str) -> None:
    assert post(url, b"not json") == 400
    assert post(url, b"[1, 2]") == 400
    # A body said to be too large is refused before it is read.
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=5)
    connection.putrequest("POST", "/alerts")
    connection.putheader("Content-Length", str(alert_receiver.MAX_BODY + 1))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()
    assert kept(url) == []


def test_the_start_command_is_valid_shell_naming_the_unit_and_port() -> None:
    command = alert_receiver.start_command("print('hi')\n")
    assert subprocess.run(["sh", "-n", "-c", command], check=False).returncode == 0
    assert f"--unit={alert_receiver.UNIT}" in command and "DynamicUser=yes" in command
    assert f"--port {alert_receiver.PORT}" in command
    assert f"http://127.0.0.1:{alert_receiver.PORT}/alerts" == alert_receiver.URL
