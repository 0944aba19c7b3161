"""What a user sees of the whole cluster: login over HTTPS through each front, the
redirect, load balancing over both app nodes, limits, failover and shared sessions."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from scenario_helpers import cgroup_limits, run_playbook

from conftest import APP, APP_PORT, CA_FILE, FRONTS, SITE, Browser, address, direct, http_url, https_url, node


def served_by_via(front: str, browser: Browser) -> str:
    """GET /healthz through a front: the app node that answered (X-Served-By, the scenario exposes it)."""
    response = browser.request(https_url(front, "/healthz"))
    assert response.status == 200
    return response.header("x-served-by")


@pytest.mark.parametrize("front", sorted(FRONTS))
def test_a_user_signs_in_over_https_through_each_front(front: str, browser: Browser, demo_password: str) -> None:
    assert CA_FILE.is_file()
    answer = browser.login(https_url(front), "demo", demo_password)
    assert answer.status in (302, 303)
    assert answer.header("location").endswith("/home")
    cookie = answer.header("set-cookie")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    home = browser.request(https_url(front, "/home"))
    assert home.status == 200
    assert "demo" in home.body
    assert home.header("x-served-by") in {"app1", "app2"}
    assert home.header("x-served-by") in home.body
    assert home.header("strict-transport-security").startswith("max-age=")


def test_a_wrong_password_is_refused_with_401(browser: Browser) -> None:
    answer = browser.login(https_url("front1"), "demo", "not-the-password")
    assert answer.status == 401
    assert "Invalid username or password." in answer.body


def test_the_front_s_json_access_log_and_the_app_s_log_share_the_request_id(browser: Browser) -> None:
    answer = browser.login(https_url("front1"), "demo", "not-the-password")
    assert answer.status == 401
    request_id = answer.header("x-request-id")
    journal = f"journalctl -u {APP}.service --no-pager -o cat --since -10min | grep -F request_id={request_id} || true"
    deadline, app_lines = time.monotonic() + 10, []
    while not app_lines and time.monotonic() < deadline:
        time.sleep(0.2)
        app_lines = [line for name in ("app1", "app2") for line in node(name).check_output(journal).splitlines()]
    assert len(app_lines) == 1, app_lines
    log = node("front1").check_output(f'grep -F \'"request_id":"{request_id}"\' /var/log/nginx/access.log')
    entry = json.loads(log.splitlines()[-1])
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/", 401)
    assert app_lines[0] == f'login failed user="demo" client={entry["client"]} request_id={request_id}'


@pytest.mark.parametrize("front", sorted(FRONTS))
def test_http_redirects_to_the_same_path_on_https(front: str, browser: Browser) -> None:
    answer = browser.request(http_url(front, "/home?x=1"))
    assert answer.status in (301, 308)
    assert answer.header("location") == f"https://{SITE}/home?x=1"


def test_tls_is_verified_against_the_ca_file_and_fails_without_it() -> None:
    url = https_url("front1", "/healthz")
    ok = subprocess.run(["curl", "-sS", "--cacert", str(CA_FILE), "-o", "/dev/null", url], capture_output=True)
    assert ok.returncode == 0
    untrusted = subprocess.run(
        ["curl", "-sS", "--cacert", "/etc/ssl/certs/ca-certificates.crt", "-o", "/dev/null", url], capture_output=True
    )
    assert untrusted.returncode == 60  # peer certificate cannot be authenticated


@pytest.mark.parametrize("front", sorted(FRONTS))
def test_requests_through_one_front_reach_both_app_nodes(front: str, browser: Browser) -> None:
    served = Counter(served_by_via(front, browser) for _ in range(20))
    assert set(served) == {"app1", "app2"}, served


def test_healthz_through_a_front_says_only_healthy_and_each_front_reads_one_release(browser: Browser) -> None:
    """Anyone sees whether the app is healthy; the release and the node's name only a front
    asking an app node directly (its health checks, status.yml) sees."""
    public = {browser.request(https_url(front, "/healthz")).body for front in sorted(FRONTS)}
    assert [json.loads(body) for body in public] == [{"status": "ok"}]
    releases = set()
    for front in sorted(FRONTS):
        for app in ("app1", "app2"):
            answer = json.loads(node(front).check_output(direct(app, "/healthz")))
            assert answer["hostname"] == app
            releases.add(answer["release"])
    assert len(releases) == 1, releases


def test_the_app_nodes_answer_a_front_over_mutual_tls_only() -> None:
    """What the fronts send the app nodes (passwords, session cookies) never crosses the network in
    clear, and only a client with a certificate from the internal CA gets an answer."""
    front = node("front1")
    for app in ("app1", "app2"):
        assert json.loads(front.check_output(direct(app)))["hostname"] == app
        without = front.run(direct(app, cert=False))
        assert without.rc != 0 and '"status"' not in without.stdout, (app, without.rc, without.stdout)
        plain = front.run(f"curl -s --max-time 3 http://{address(app)}:{APP_PORT}/healthz")
        assert plain.stdout == "", (app, plain.rc, plain.stdout)
    # The app node's certificate names the node, the name the fronts check and its address.
    names = front.check_output(
        f"openssl s_client -connect {address('app1')}:{APP_PORT} -servername app1 </dev/null 2>/dev/null"
        " | openssl x509 -noout -ext subjectAltName"
    )
    assert {"DNS:app1", "DNS:app.flask-stack.internal", f"IP Address:{address('app1')}"} <= set(
        re.findall(r"(DNS:[^,\s]+|IP Address:[0-9.]+)", names)
    ), names


@pytest.mark.parametrize("name", ["app1", "app2"])
def test_limits_are_in_force_in_each_app_nodes_cgroup(name: str) -> None:
    limits = cgroup_limits(node(name), f"{APP}.service")
    assert limits.memory_max == 512 * 1024 * 1024
    assert limits.cpu_quota == pytest.approx(1.0)
    assert limits.cpu_period_us == 10_000
    assert limits.tasks_max == "128"


@pytest.mark.parametrize("name", ["app1", "app2"])
def test_gunicorn_runs_as_many_workers_as_the_cpu_quota_allows_plus_one(name: str) -> None:
    """The default app_workers (0) sizes from CPUQuota=100% (one CPU): 2 workers, whatever
    the node's CPU count."""
    host = node(name)
    master = host.check_output(f"systemctl show -p MainPID --value {APP}.service")
    workers = host.check_output(f"pgrep -c -P {master}")
    assert int(workers) == 2


def test_a_session_made_through_front1_is_valid_through_front2(browser: Browser, demo_password: str) -> None:
    assert browser.login(https_url("front1"), "demo", demo_password).status in (302, 303)
    served = set()
    for _ in range(6):
        home = browser.request(https_url("front2", "/home"))
        assert home.status == 200
        assert "demo" in home.body
        served.add(home.header("x-served-by"))
    assert served == {"app1", "app2"}


def test_signing_out_through_one_front_ends_a_copied_cookie_on_every_app_node(
    browser: Browser, demo_password: str, tmp_path: Path
) -> None:
    """The copy (a stolen cookie) works on both app nodes until the owner signs out through
    front1; from then on front2 gets the sign-in page for it, from app1 and app2 alike."""
    assert browser.login(https_url("front1"), "demo", demo_password).status in (302, 303)
    home = browser.request(https_url("front1", "/home"))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', home.body)
    assert token, "the home page has no sign-out form"
    thief = Browser(tmp_path / "copied.txt")
    shutil.copy(browser.jar, thief.jar)
    before = [thief.request(https_url("front2", "/home")) for _ in range(6)]
    assert {(a.status, a.header("x-served-by")) for a in before} == {(200, "app1"), (200, "app2")}
    referer, form = f"Referer: {https_url('front1')}", f"csrf_token={token.group(1)}"
    out = browser.request(https_url("front1", "/logout"), "-H", referer, "--data-urlencode", form)
    assert out.status == 303
    after = [thief.request(https_url("front2", "/home")) for _ in range(6)]
    assert {(a.status, a.header("x-served-by")) for a in after} == {(302, "app1"), (302, "app2")}
    assert all(a.header("location").startswith("/?next=") for a in after)


def test_stopping_app1_loses_no_request_and_app1_serves_again_when_back(browser: Browser) -> None:
    app1 = node("app1")
    app1.check_output(f"systemctl stop {APP}.socket {APP}.service")
    try:
        statuses = Counter()
        served = Counter()
        for i in range(40):
            answer = browser.request(https_url("front1" if i % 2 else "front2", "/healthz"))
            statuses[answer.status] += 1
            if answer.status == 200:
                served[answer.header("x-served-by")] += 1
        print(f"\nwith app1 stopped: {dict(statuses)} served by {dict(served)}")
        assert statuses == Counter({200: 40})
        assert set(served) == {"app2"}
    finally:
        app1.check_output(f"systemctl start {APP}.socket {APP}.service")
    # Nginx tries app1 again once its fail_timeout has passed: wait for that, bounded.
    back = Counter()
    deadline = time.monotonic() + 40
    i = 0
    while back["app1"] < 2 and time.monotonic() < deadline:
        answer = browser.request(https_url("front1" if i % 2 else "front2", "/healthz"))
        assert answer.status == 200
        back[answer.header("x-served-by")] += 1
        i += 1
        time.sleep(0.2)
    assert back["app1"] >= 2, f"app1 got no traffic after it was started again: {dict(back)}"


def test_maintenance_mode_switches_both_fronts_and_back(browser: Browser, demo_password: str, tmp_path: Path) -> None:
    maintenance = Path(__file__).resolve().parents[3] / "playbooks" / "maintenance.yml"
    inventory = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
    on = run_playbook(maintenance, "state=on", json.dumps({"message": "Back in five minutes."}), inventory=inventory)
    try:
        assert on.returncode == 0, on.stdout[-3000:]
        for front in sorted(FRONTS):
            page = browser.request(https_url(front))
            assert page.status == 503
            assert page.header("retry-after") == "300"
            assert page.header("content-security-policy").startswith("default-src 'self'")
            assert "Back in five minutes." in page.body
            data = browser.request(https_url(front, "/home"), "-H", "Accept: application/json")
            assert (data.status, json.loads(data.body)["error"]) == (503, "Service Unavailable")
            assert served_by_via(front, browser) in {"app1", "app2"}
    finally:
        off = run_playbook(maintenance, "state=off", inventory=inventory)
    assert off.returncode == 0, off.stdout[-3000:]
    for front in sorted(FRONTS):
        # A user of its own per front: a signed-in one would be sent from / to /home.
        user = Browser(tmp_path / f"{front}.jar")
        assert user.login(https_url(front), "demo", demo_password).status in (302, 303)
