"""What a user of role `app` sees on an app node: Gunicorn under systemd, limited and sandboxed."""

from __future__ import annotations

import json
import re
import time

import pytest
from scenario_helpers import cgroup_limits

from conftest import SCENARIO

testinfra_hosts = ["ansible://all"]

APP = "loginapp"


def healthz(host) -> dict:
    return json.loads(host.check_output("curl -sf --max-time 2 http://127.0.0.1:8000/healthz"))


def current_release(host) -> str:
    return host.check_output("basename $(readlink -f /opt/loginapp/current)")


def main_pid(host) -> int:
    return int(host.check_output(f"systemctl show -p MainPID --value {APP}.service"))


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
        result = host.run("curl -sf --max-time 1 http://127.0.0.1:8000/healthz")
        if result.rc == 0 and main_pid(host) not in (0, before):
            break
        time.sleep(0.5)
    else:
        pytest.fail("Gunicorn did not come back within 30s after SIGKILL")
    assert host.service(f"{APP}.service").is_running
    assert healthz(host)["status"] == "ok"


def test_a_new_release_switches_current_and_keeps_the_previous(host, run_converge) -> None:
    first = current_release(host)
    new = f"0.1.0-next{int(time.time())}"
    result = run_converge(f"app_release_id={new}")
    assert result.returncode == 0, result.stdout[-3000:]
    assert current_release(host) == new
    assert healthz(host)["release"] == new
    assert host.check_output("basename $(readlink -f /opt/loginapp/previous)") == first
    assert host.file(f"/opt/loginapp/releases/{first}/venv/bin/gunicorn").exists


def test_a_release_that_cannot_import_fails_and_the_previous_keeps_serving(host, run_converge) -> None:
    serving = current_release(host)
    result = run_converge(f"app_source={SCENARIO / 'broken'}", "app_release_id=0.0.1-broken")
    assert result.returncode != 0
    assert "Release 0.0.1-broken cannot load loginapp.wsgi:app" in result.stdout
    assert "loginapp_missing_dependency" in result.stdout
    assert current_release(host) == serving
    assert healthz(host)["release"] == serving
    assert not host.file("/opt/loginapp/releases/0.0.1-broken").exists


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("app_cpu_quota=lots", "app_cpu_quota"),
        ("app_memory_max=huge", "app_memory_max"),
        ("app_port=not-a-port", "app_port"),
        ('{"app_keep_releases": "many"}', "app_keep_releases"),
    ],
)
def test_an_invalid_input_fails_before_any_change(host, run_converge, override: str, message: str) -> None:
    before = host.check_output("stat -c %Y /etc/loginapp/environment /etc/loginapp/gunicorn.conf.py")
    pid = main_pid(host)
    result = run_converge(override)
    assert result.returncode != 0
    assert message in result.stdout
    assert "changed=0" in result.stdout
    assert host.check_output("stat -c %Y /etc/loginapp/environment /etc/loginapp/gunicorn.conf.py") == before
    assert main_pid(host) == pid
