"""What a user of role `app` sees on an app node: Gunicorn under systemd, limited and sandboxed."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import time
from pathlib import Path

import pytest
from scenario_helpers import cgroup_limits

from conftest import PEER_KEY, SCENARIO, app_tls_argv, curl_app

testinfra_hosts = ["ansible://all"]

APP = "loginapp"
# The secret key placeholder of inventory/example/group_vars/apps/vault.yml.example.
PLACEHOLDER = "change-me-to-a-long-random-string-of-48-or-more-chars"


def healthz(host) -> dict:
    return json.loads(host.check_output(curl_app(host, "/healthz")))


def current_release(host) -> str:
    return host.check_output("basename $(readlink -f /opt/loginapp/current)")


def main_pid(host) -> int:
    return int(host.check_output(f"systemctl show -p MainPID --value {APP}.service"))


def node_address(host) -> str:
    return host.ansible("setup", "filter=ansible_default_ipv4")["ansible_facts"]["ansible_default_ipv4"]["address"]


def demo_password() -> str:
    return (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets" / "demo_password").read_text().strip()


def journal_since(host, since: float) -> str:
    return host.check_output(f"journalctl --unit {APP}.service --since @{since:.0f} --no-pager --output cat")


# Sign-ins run on the node itself (the socket lets only the node and the fronts in), over mutual
# TLS (conftest.app_tls_argv): each thread gets its own session and CSRF token, then all POST at
# once. Prints one status per line.
SIGN_IN = r"""
import http.client, re, ssl, sys, threading, urllib.error, urllib.parse, urllib.request
address, name, ca, cert, key = sys.argv[1:6]
user, password, count = sys.argv[6], sys.argv[7], int(sys.argv[8])
forwarded = sys.argv[9] if len(sys.argv) > 9 else ""
base = f"https://{address}:8000"
context = ssl.create_default_context(cafile=ca)
context.load_cert_chain(cert, key)
class Connection(http.client.HTTPSConnection):
    # Connects to the URL's address; the app's certificate must name the node.
    def connect(self):
        http.client.HTTPConnection.connect(self)
        self.sock = context.wrap_socket(self.sock, server_hostname=name)
class Tls(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(Connection, req)
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
opener = urllib.request.build_opener(Tls, NoRedirect)
def session():
    # The session cookie is carried by hand (no cookie jar).
    answer = opener.open(base + "/", timeout=10)
    cookie = answer.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', answer.read().decode()).group(1)
    return cookie, token
sessions = [session() for _ in range(count)]
barrier, statuses = threading.Barrier(count), [None] * count
def sign_in(i):
    cookie, token = sessions[i]
    data = urllib.parse.urlencode({"username": user, "password": password, "csrf_token": token}).encode()
    # Over HTTPS, Flask-WTF also wants a same-origin Referer on a POST.
    request = urllib.request.Request(base + "/", data=data, headers={"Cookie": cookie, "Referer": base + "/"})
    if forwarded:
        request.add_header("X-Forwarded-For", forwarded)
    barrier.wait()
    try:
        answer = opener.open(request, timeout=60)
        statuses[i] = (answer.status, answer.headers.get("Retry-After"))
    except urllib.error.HTTPError as error:
        statuses[i] = (error.code, error.headers.get("Retry-After"))
    except Exception as error:
        statuses[i] = ("error", type(error).__name__)
threads = [threading.Thread(target=sign_in, args=(i,)) for i in range(count)]
for t in threads: t.start()
for t in threads: t.join()
for status, retry in statuses: print(status, retry)
"""


def sign_in_on_node(host, address: str, user: str, password: str, count: int, forwarded: str = "") -> list[tuple]:
    tls = app_tls_argv(host, address)
    result = host.run(f"python3 - {tls} {user} '{password}' {count} {forwarded} <<'EOF'\n{SIGN_IN}\nEOF")
    assert result.rc == 0, result.stderr
    return [tuple(line.split()) for line in result.stdout.splitlines()]


def test_socket_and_service_are_active_and_enabled(host) -> None:
    for unit in (f"{APP}.socket", f"{APP}.service"):
        service = host.service(unit)
        assert service.is_running, unit
        assert service.is_enabled, unit
    assert host.socket("tcp://0.0.0.0:8000").is_listening


def test_healthz_answers_with_the_release_that_current_points_to(host) -> None:
    answer = healthz(host)
    assert answer["status"] == "ok"
    assert answer["release"] == current_release(host)
    assert answer["release"].startswith("0.1.0-")


def test_the_app_answers_only_a_client_with_a_certificate_from_the_internal_ca(host) -> None:
    """Mutual TLS (app_tls, role app's default): Gunicorn requires a client certificate that the
    internal CA signed; without one, with another CA's, or over plain HTTP the app gives no answer."""
    status = "-s -o /dev/null -w '%{http_code}' --max-time 3"
    assert host.check_output(curl_app(host, "/healthz", status)) == "200"
    other = ("/tmp/other-ca.crt", "/tmp/other-ca.key")  # a self-signed certificate no one trusts
    host.check_output(
        f"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
        f" -subj /CN=app-node -keyout {other[1]} -out {other[0]} 2>/dev/null"
    )
    try:
        for client in (None, other):
            refused = host.run(curl_app(host, "/healthz", status, client=client))
            assert refused.rc != 0 and refused.stdout == "000", (client, refused.rc, refused.stdout, refused.stderr)
    finally:
        host.run(f"rm -f {other[0]} {other[1]}")
    plain = host.run(f"curl {status} http://127.0.0.1:8000/healthz")
    assert plain.rc != 0 and plain.stdout == "000", (plain.rc, plain.stdout, plain.stderr)
    gunicorn = host.file(f"/etc/{APP}/gunicorn.conf.py").content_string
    assert re.search(r"^cert_reqs = ssl\.CERT_REQUIRED$", gunicorn, re.MULTILINE)
    # Role app's copy of role tls's key (root's, 0600): Gunicorn's user reads it, no one else.
    key = host.file(f"/etc/{APP}/peer.key")
    assert (key.user, key.group, key.mode) == ("root", APP, 0o640)
    assert host.file(f"/etc/{APP}/peer.key").content == host.file(PEER_KEY).content


def test_the_host_name_is_not_exposed_by_default(host) -> None:
    assert "hostname" not in healthz(host)
    headers = host.check_output(curl_app(host, "/", "-sf -D - -o /dev/null --max-time 2"))
    assert "x-served-by" not in headers.lower()
    assert 'LOGINAPP_EXPOSE_HOSTNAME="false"' in host.file(f"/etc/{APP}/environment").content_string


def test_the_socket_lets_in_only_the_node_and_the_fronts(host) -> None:
    props = dict(
        line.split("=", 1)
        for line in host.check_output(f"systemctl show -p IPAddressAllow,IPAddressDeny {APP}.socket").splitlines()
    )
    # systemd keeps its own order (it varies between boots) and folds 127.0.0.1 into
    # localhost's 127.0.0.0/8.
    assert sorted(props["IPAddressDeny"].split()) == ["0.0.0.0/0", "::/0"]
    assert sorted(props["IPAddressAllow"].split()) == sorted(["127.0.0.0/8", "::1/128", f"{node_address(host)}/32"])


def test_a_machine_that_is_not_let_in_cannot_connect_to_the_app(host) -> None:
    """The controller reaches the node (its SSH port answers) but not the app's port."""
    address = node_address(host)
    assert host.socket("tcp://0.0.0.0:22").is_listening
    with socket.create_connection((address, 22), timeout=5):
        pass
    with pytest.raises(OSError), socket.create_connection((address, 8000), timeout=3):
        pass
    # The node itself, from its own (allowed) address, gets in.
    assert host.run(curl_app(host, "/healthz", "-sf --max-time 3", address)).rc == 0


def test_forwarded_headers_count_only_from_a_trusted_peer(host) -> None:
    """Loopback is a trusted proxy (127.0.0.1); the node's own address is let in but not trusted."""
    address = node_address(host)
    start = time.time() - 1
    sign_in_on_node(host, "127.0.0.1", "nobody", "wrong", 1, "203.0.113.7")
    sign_in_on_node(host, address, "nobody", "wrong", 1, "203.0.113.8")
    time.sleep(1)
    failed = [line for line in journal_since(host, start).splitlines() if line.startswith("login failed")]
    # "nobody" is no user's name: the log keeps a keyed hash of it, the same for both attempts.
    assert len(failed) == 2 and "nobody" not in "".join(failed), failed
    assert re.fullmatch(r"login failed unknown_user=[0-9a-f]{16} client=203\.0\.113\.7 request_id=-", failed[0])
    assert failed[1] == failed[0].replace("203.0.113.7", address)


def test_twenty_concurrent_sign_ins_stay_within_the_memory_limit(host, capsys) -> None:
    group = host.check_output(f"systemctl show -p ControlGroup --value {APP}.service")
    usage = f"/sys/fs/cgroup/memory{group}/memory.max_usage_in_bytes"
    limit = int(host.check_output(f"cat /sys/fs/cgroup/memory{group}/memory.limit_in_bytes"))
    environment = host.file(f"/etc/{APP}/environment").content_string
    slots = re.search(r'LOGINAPP_LOGIN_CONCURRENCY="([0-9]+)"', environment).group(1)
    pids = host.check_output(f"pgrep -d, -u {APP}")
    host.check_output(f"echo 0 > {usage}")
    start = time.time() - 1
    began = time.monotonic()
    answers = sign_in_on_node(host, "127.0.0.1", "demo", demo_password(), 20)
    took = time.monotonic() - began
    peak = int(host.check_output(f"cat {usage}"))
    journal = journal_since(host, start)
    statuses = sorted(status for status, _ in answers)
    with capsys.disabled():
        print(
            f"\n20 concurrent sign-ins, {slots} node slot(s): {dict((s, statuses.count(s)) for s in set(statuses))}"
            f" in {took:.1f} s; peak memory {peak / 2**20:.0f} MiB of {limit / 2**20:.0f} MiB"
        )
    assert set(statuses) <= {"303", "503", "429"}, answers
    assert "303" in statuses
    assert all(retry != "None" for status, retry in answers if status == "503")
    assert peak < limit
    for sign in ("SIGKILL", "out of memory", "oom-kill", "was sent SIG"):
        assert sign not in journal
    assert host.check_output(f"pgrep -d, -u {APP}") == pids


def test_gunicorn_runs_as_the_service_user_from_the_release_venv(host) -> None:
    pid = main_pid(host)
    assert host.check_output(f"ps -o user= -p {pid}") == APP
    assert f"/opt/{APP}/current/venv/bin/gunicorn" in host.check_output(f"ps -o args= -p {pid}")
    assert host.user(APP).shell == "/usr/sbin/nologin"


def test_config_and_secrets_are_readable_by_the_service_only(host) -> None:
    for name in ("environment", "users", "gunicorn.conf.py"):
        f = host.file(f"/etc/{APP}/{name}")
        assert (f.user, f.group, f.mode) == ("root", APP, 0o640), name
    assert host.file(f"/etc/{APP}").mode == 0o750
    assert "LOGINAPP_SECRET_KEY=" in host.file(f"/etc/{APP}/environment").content_string


def test_limits_are_in_force_in_the_unit(host) -> None:
    props = dict(
        line.split("=", 1)
        for line in host.check_output(
            f"systemctl show -p MemoryMax,MemoryHigh,CPUQuotaPerSecUSec,TasksMax,LimitNOFILE {APP}.service"
        ).splitlines()
    )
    assert props["MemoryMax"] == str(256 * 1024 * 1024)
    assert props["MemoryHigh"] == str(200 * 1024 * 1024)
    assert props["CPUQuotaPerSecUSec"] == "500ms"
    assert props["TasksMax"] == "64"
    assert props["LimitNOFILE"] == "2048"


def test_limits_are_in_force_in_the_kernel_cgroups(host) -> None:
    limits = cgroup_limits(host, f"{APP}.service")
    assert limits.memory_max == 256 * 1024 * 1024
    assert limits.tasks_max == "64"
    assert limits.cpu_quota == pytest.approx(0.5)
    # app_cpu_quota_period's default: a throttled service waits at most ~10 ms, not 100.
    assert limits.cpu_period_us == 10_000
    open_files = host.check_output(f"grep 'Max open files' /proc/{main_pid(host)}/limits").split()
    assert open_files[3:5] == ["2048", "2048"]


# Directives of the unit that run the service's own sandbox in a transient unit.
SANDBOX_SKIP = {"Type", "NotifyAccess", "ExecStart", "ExecReload", "KillMode", "TimeoutStopSec", "Restart",
                "RestartSec", "RuntimeDirectory", "RuntimeDirectoryMode", "EnvironmentFile"}  # fmt: skip


def in_service_sandbox(host, command: str):
    """Run a shell command as the service user inside the unit's own sandbox settings."""
    unit = host.file(f"/etc/systemd/system/{APP}.service").content_string
    service = unit.split("[Service]", 1)[1].split("[Install]", 1)[0]
    props = [
        line.strip()
        for line in service.splitlines()
        if "=" in line and not line.startswith("#") and line.split("=", 1)[0] not in SANDBOX_SKIP
    ]
    assert any(p.startswith("ProtectSystem=strict") for p in props)
    args = " ".join(f"-p '{p}'" for p in props)
    return host.run(f"systemd-run --quiet --wait --pipe --collect {args} /bin/sh -c '{command}'")


@pytest.mark.parametrize("path", ["/opt/loginapp/current/x", "/opt/loginapp/x", "/etc/loginapp/x", "/usr/x", "/var/x"])
def test_service_user_cannot_write_the_system_from_inside_the_sandbox(host, path: str) -> None:
    result = in_service_sandbox(host, f"id -un; touch {path}")
    assert result.stdout.strip() == APP
    assert result.rc != 0
    assert "Read-only file system" in result.stderr
    assert not host.file(path).exists


def test_the_sandbox_has_a_private_writable_tmp_and_no_home(host) -> None:
    result = in_service_sandbox(host, "touch /tmp/ok && ls -A /tmp && ls -A /home /root | wc -l")
    assert result.rc == 0, result.stderr
    assert result.stdout.split() == ["ok", "0"]
    assert not host.file("/tmp/ok").exists


CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
    print("connected")
except ConnectionRefusedError:
    print("refused")  # the packet reached the other end, whose port is closed
except OSError as error:
    print(f"blocked: {error!r}")
"""


def connect_outcome(host, address: str, port: int, sandboxed: bool) -> str:
    """Try a TCP connection from the node, as root or inside the service's unit settings."""
    probe = "/run/egress-probe.py"  # /run: readable inside the sandbox (its /tmp is private)
    host.check_output(f"printf %s {shlex.quote(CONNECT)} > {probe}")
    command = f"python3 {probe} {address} {port}"
    result = in_service_sandbox(host, command) if sandboxed else host.run(command)
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def test_the_service_connects_to_its_own_node_only(host) -> None:
    """IPAddressDeny=any on the service (app_egress_allow empty): the node's gateway, which
    answers the node itself (refused: its port 1 is closed), is not reached from inside the
    unit; the app's own port on loopback is."""
    gateway = host.ansible("setup", "filter=ansible_default_ipv4")["ansible_facts"]["ansible_default_ipv4"]["gateway"]
    assert connect_outcome(host, gateway, 1, sandboxed=False) == "refused"
    assert connect_outcome(host, gateway, 1, sandboxed=True).startswith("blocked")
    assert connect_outcome(host, "127.0.0.1", 8000, sandboxed=True) == "connected"


def test_sandbox_exposure_score_is_low(host, capsys) -> None:
    out = host.check_output(f"systemd-analyze security --no-pager {APP}.service")
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out).group(1))
    with capsys.disabled():
        print(f"\nsystemd-analyze security {APP}.service: exposure {score} (0 = fully sandboxed, 10 = none)")
    assert score <= 2.0


def test_systemd_brings_gunicorn_back_after_sigkill(host) -> None:
    before = main_pid(host)
    host.run(f"kill -KILL {before}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        result = host.run(curl_app(host, "/healthz", "-sf --max-time 1"))
        if result.rc == 0 and main_pid(host) not in (0, before):
            break
        time.sleep(0.5)
    else:
        pytest.fail("Gunicorn did not come back within 30s after SIGKILL")
    assert host.service(f"{APP}.service").is_running
    assert healthz(host)["status"] == "ok"


def test_a_release_that_cannot_import_fails_and_the_previous_keeps_serving(host, run_converge) -> None:
    serving = current_release(host)
    result = run_converge(f"app_source={SCENARIO / 'broken'}", "app_release_id=0.0.1-broken")
    assert result.returncode != 0
    assert "Release 0.0.1-broken cannot load loginapp.wsgi:app" in result.stdout
    assert "loginapp_missing_dependency" in result.stdout
    assert current_release(host) == serving
    assert healthz(host)["release"] == serving
    assert not host.file("/opt/loginapp/releases/0.0.1-broken").exists


# Each wrong input's own message, and the ones the table of checks refuses by type, are
# tested without a node (tests/test_inputs.py, the same values); this is the converge: it
# names every wrong input, prints no secret and stops before the node changes.
WRONG = {
    "app_cpu_quota": "lots",
    "app_memory_max": "huge",
    "app_tasks_max": -1,
    "app_secret_environment": {"LOGINAPP_SECRET_KEY": PLACEHOLDER},
}


def test_invalid_inputs_fail_before_any_change(host, run_converge) -> None:
    before = host.check_output("stat -c %Y /etc/loginapp/environment /etc/loginapp/gunicorn.conf.py")
    pid = main_pid(host)
    result = run_converge(json.dumps(WRONG))
    assert result.returncode != 0
    for message in (
        "app_cpu_quota must be a quota like",
        "app_memory_max must be a size like",
        "app_tasks_max must be between 16 and",
        "app_secret_environment.LOGINAPP_SECRET_KEY must be a random key of at least 32 characters",
    ):
        assert message in result.stdout, result.stdout[-3000:]
    assert PLACEHOLDER not in result.stdout
    assert re.search(r"app-node\s*: ok=\d+\s+changed=0\s", result.stdout), result.stdout[-2000:]
    assert host.check_output("stat -c %Y /etc/loginapp/environment /etc/loginapp/gunicorn.conf.py") == before
    assert main_pid(host) == pid
