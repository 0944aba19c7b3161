"""The edge as a user sees it on a front: maintenance mode, the project's error pages, the
client's real address behind a trusted proxy, and the JSON access log."""

from __future__ import annotations

import json
import shlex

import pytest
from scenario_helpers import run_playbook
from test_nginx import SITE, STUB_LOG, assert_security_headers, https

from conftest import PROJECT

testinfra_hosts = ["ansible://fronts"]

MAINTENANCE = PROJECT / "playbooks/maintenance.yml"
MAINTENANCE_CONF = "/etc/nginx/conf.d/flask-stack-maintenance.conf"
ACCESS_LOG = "/var/log/nginx/access.log"
# A message with markup in it: the page must show it as text.
MESSAGE = "Back at 14:00 UTC <b>soon</b> & then some"
JSON = ("-H", "Accept: application/json")


def switch(*extra_vars: str) -> str:
    result = run_playbook(MAINTENANCE, *extra_vars)
    assert result.returncode == 0, result.stdout[-4000:]
    return result.stdout


def log_entry(host, request_id: str) -> dict:
    lines = host.check_output(f"grep -F {request_id} {ACCESS_LOG}").splitlines()
    return json.loads(lines[-1])


@pytest.fixture(scope="class")
def maintenance(host):
    """Maintenance on, with a message, for the tests that need it; off again after them."""
    output = switch("state=on", json.dumps({"message": MESSAGE}))
    yield output
    switch("state=off")


# --- Maintenance mode ---------------------------------------------------------------------------


class TestMaintenance:
    """Switched on once for the class, off again after it."""

    def test_on_answers_503_with_retry_after_the_page_and_the_headers(self, host, maintenance, app_node) -> None:
        assert (
            "maintenance on at nginx-front: every request gets 503 and the maintenance page, except the health check."
            in maintenance
        )
        for path in ("/", "/account", "/?next=/x"):
            answer = https(host, path)
            assert answer.status == 503, path
            assert answer.headers["retry-after"] == "300"
            assert answer.headers["content-type"] == "text/html"
            assert answer.headers["cache-control"] == "no-store"
            assert_security_headers(answer)
            assert "<h1>503 Service Unavailable</h1>" in answer.body
            assert "Back at 14:00 UTC &lt;b&gt;soon&lt;/b&gt; &amp; then some" in answer.body
            assert '<link rel="stylesheet" href="/static/style.css">' in answer.body
            # The stub writes its log at its first request: none may have come yet.
            assert answer.headers["x-request-id"] not in app_node.run(f"cat {STUB_LOG}").stdout
        posted = https(host, "/", "-d", "user=demo")
        assert posted.status == 503
        # The page's stylesheet comes from the front's disk, so the page looks right.
        assert https(host, "/static/style.css").status == 200

    def test_maintenance_answers_json_to_a_client_that_asks_for_it(self, host, maintenance) -> None:
        answer = https(host, "/", *JSON)
        assert answer.status == 503
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["retry-after"] == "300"
        assert_security_headers(answer)
        assert json.loads(answer.body) == {"status": 503, "error": "Service Unavailable", "message": MESSAGE}

    def test_maintenance_still_lets_the_health_check_reach_the_app(self, host, maintenance) -> None:
        answer = https(host, "/healthz")
        assert answer.status == 200
        assert answer.body.strip() == "stub nginx-app GET /healthz"

    def test_allowed_networks_get_the_app_and_off_serves_everyone_again(self, host, maintenance) -> None:
        output = switch("state=on", "allow=192.0.2.0/24,127.0.0.1")
        assert "except the health check and clients in 192.0.2.0/24, 127.0.0.1." in output
        assert https(host, "/").status == 200
        output = switch("state=off")
        assert "maintenance off at nginx-front: the app is served again." in output
        assert "default 0;" in host.file(MAINTENANCE_CONF).content_string
        answer = https(host, "/")
        assert answer.status == 200
        assert answer.body.strip() == "stub nginx-app GET /"


@pytest.mark.parametrize("state", ["", "maybe"])
def test_a_wrong_state_changes_nothing_and_says_why(host, state: str) -> None:
    before = host.file(MAINTENANCE_CONF).content_string
    result = run_playbook(MAINTENANCE, *([f"state={state}"] if state else []))
    assert result.returncode != 0
    assert "state must be 'on' or 'off'" in result.stdout
    assert host.file(MAINTENANCE_CONF).content_string == before


def test_a_wrong_allowed_network_is_named_and_changes_nothing(host) -> None:
    before = host.file(MAINTENANCE_CONF).content_string
    result = run_playbook(MAINTENANCE, "state=on", "allow=10.0.0.0/33")
    assert result.returncode != 0
    assert "nginx_maintenance_allow[0] must be an IPv4 or IPv6 address or network" in result.stdout
    assert host.file(MAINTENANCE_CONF).content_string == before
    assert https(host, "/").status == 200


# --- The project's error pages ------------------------------------------------------------------


def test_with_the_app_node_down_the_front_answers_its_own_502_page(host, app_node) -> None:
    app_node.check_output("systemctl stop upstream-stub.service")
    try:
        page = https(host, "/")
        data = https(host, "/account", *JSON)
    finally:
        app_node.check_output("systemctl start upstream-stub.service")
        # The stub answers its own node over mutual TLS (role tls's files for the node, its name).
        tls = (
            "--cacert /etc/ssl/flask-stack/peer-ca.crt --cert /etc/ssl/flask-stack/peer.crt"
            " --key /etc/ssl/flask-stack/peer.key --resolve nginx-app:8000:127.0.0.1"
        )
        app_node.check_output(
            f"timeout 10 sh -c 'until curl -sf {tls} https://nginx-app:8000/healthz; do sleep 0.2; done'"
        )
    assert page.status == 502
    assert page.headers["retry-after"] == "10"
    assert_security_headers(page)
    assert "<h1>502 Bad Gateway</h1>" in page.body
    assert "<center>nginx</center>" not in page.body
    assert data.status == 502
    assert data.headers["content-type"] == "application/json"
    assert json.loads(data.body)["error"] == "Bad Gateway"
    assert_security_headers(data)


def test_an_error_the_app_answers_passes_through_unchanged(host) -> None:
    answer = https(host, "/missing")
    assert answer.status == 404
    assert answer.body.strip() == "stub nginx-app GET /missing"


def test_the_error_pages_are_internal_only(host) -> None:
    for name in ("502.html", "503.json"):
        # Not served from outside (an internal location: 404), and the front did answer (not 0).
        assert 400 <= https(host, f"/_flask_stack/errors/{name}").status < 500


# --- The client's real address ---------------------------------------------------------------------
# The scenario trusts loopback as a proxy (molecule.yml): curl on the front plays the load
# balancer; the app node is a peer that is not trusted.


def test_a_trusted_proxy_s_forwarded_address_is_the_client_in_the_log_and_the_app(host) -> None:
    answer = https(host, "/echo-headers", "-H", "X-Forwarded-For: 198.51.100.23, 127.0.0.1")
    assert answer.status == 200
    assert json.loads(answer.body)["X-Forwarded-For"] == "198.51.100.23"
    entry = log_entry(host, answer.headers["x-request-id"])
    assert (entry["client"], entry["peer"]) == ("198.51.100.23", "127.0.0.1")


def test_an_untrusted_peer_s_forwarded_address_is_ignored(host, app_node) -> None:
    front = host.check_output("hostname -I").split()[0]
    marker = "untrusted-" + host.check_output("cat /proc/sys/kernel/random/uuid")
    curl = ["curl", "-sS", "-o", "/dev/null", "-H", "X-Forwarded-For: 198.51.100.66"]
    app_node.check_output(shlex.join([*curl, "--resolve", f"{SITE}:80:{front}", f"http://{SITE}/{marker}"]))
    peer = app_node.check_output("hostname -I").split()[0]
    entry = json.loads(host.check_output(f"grep -F {marker} {ACCESS_LOG}").splitlines()[-1])
    assert (entry["client"], entry["peer"], entry["status"]) == (peer, peer, 301)


def test_the_login_rate_counts_the_forwarded_client_not_the_proxy(host) -> None:
    def posts(client: str, count: int) -> list[str]:
        return host.check_output(
            f"for i in $(seq {count}); do curl -sS -o /dev/null -w '%{{http_code}}\\n' "
            f"--cacert /usr/local/share/ca-certificates/flask-stack-ca.crt --resolve {SITE}:443:127.0.0.1 "
            f"-H 'X-Forwarded-For: {client}' -d user=demo https://{SITE}/; done"
        ).split()

    first = posts("198.51.100.31", 12)
    assert "429" in first and "200" in first
    assert posts("198.51.100.32", 1) == ["200"]


# --- The access log ----------------------------------------------------------------------------------


def test_an_access_log_line_is_json_with_what_an_operator_needs(host) -> None:
    answer = https(host, "/logged?q=1")
    entry = log_entry(host, answer.headers["x-request-id"])
    assert entry["request_id"] == answer.headers["x-request-id"]
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/logged?q=1", 200)
    assert entry["protocol"] == "HTTP/2.0"
    assert entry["tls"] in ("TLSv1.2", "TLSv1.3")
    assert entry["bytes"] == len(answer.body.encode())
    assert entry["client"] == "127.0.0.1"
    assert entry["upstream_addr"].endswith(":8000")
    assert float(entry["upstream_time"]) >= 0 and entry["request_time"] >= 0
    assert entry["host"] == SITE


def test_the_access_log_is_rotated_by_logrotate_and_nginx_writes_the_new_file(host) -> None:
    host.check_output("logrotate --force /etc/logrotate.d/nginx")
    assert host.file(f"{ACCESS_LOG}.1").exists
    request_id = https(host, "/after-rotation").headers["x-request-id"]
    assert log_entry(host, request_id)["path"] == "/after-rotation"
