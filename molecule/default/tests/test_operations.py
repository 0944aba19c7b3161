"""Operations as a user runs them, each under a bounded load through both fronts that
checks every answer: a deploy killed half-way and completed by the next one, a release
that never gets healthy, a rollback, the deploy lock, site.yml with a new setting and a
new app node, site.yml with a setting the app refuses, a deploy with a node down, a rolling restart
with a single app node, and no secret left in any log."""

from __future__ import annotations

import getpass
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from load import Load
from scenario_helpers import ansible_env, run_playbook
from site_client import STYLESHEET, page_user, site_user

from conftest import (
    APP,
    APP_CONFIG_DIR,
    APP_PORT,
    APP_ROOT,
    EPHEMERAL,
    PEER_CERT,
    PEER_KEY,
    address,
    alerts_fired_between,
    direct,
    monitor_api,
    node,
)

PROJECT = Path(__file__).resolve().parents[3]
SCENARIO = PROJECT / "molecule" / "default"
APPS = ("app1", "app2")
FRONT_NAMES = ("front1", "front2")
LOCK = "/var/lib/flask-stack/deploy.lock"
UPSTREAM = "/etc/nginx/conf.d/flask-stack-upstream.conf"
AUDIT = "/var/log/flask-stack/audit.jsonl"
STEP_LOG = "/tmp/release-step.log"
# The release step: where and when it ran (CLOCK_MONOTONIC in µs, shared by the containers,
# as systemd's ActiveEnterTimestampMonotonic), in which venv, for which releases.
STEP = (
    "python -c 'import os, sys, time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000, "
    'os.environ["RELEASE"], os.environ["PREVIOUS_RELEASE"] or "-", sys.prefix, os.getuid())\' >> ' + STEP_LOG
)


def extra(**values: object) -> str:
    """Extra vars as JSON: values with spaces and quotes reach the playbook as they are."""
    return json.dumps(values)


def audit_lines() -> list[dict]:
    return [json.loads(line) for line in node("front1").check_output(f"cat {AUDIT}").splitlines()]


def step_runs() -> dict[str, list[str]]:
    """The release step's lines on each app node (it writes one line each time it runs)."""
    return {name: node(name).run(f"cat {STEP_LOG}").stdout.splitlines() for name in APPS}


def forget_step_runs() -> None:
    for name in APPS:
        node(name).run(f"rm -f {STEP_LOG}")


def inventory_dir() -> Path:
    """Molecule's inventory directory: the hosts file and the scenario's group_vars."""
    return Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent


def playbook(name: str, *extra_vars: str, inventory: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run one of the project's playbooks against the cluster."""
    return run_playbook(PROJECT / "playbooks" / name, *extra_vars, inventory=str(inventory or inventory_dir()))


def inventory_with_apps(tmp_path: Path, apps: list[str]) -> Path:
    """A copy of the scenario's inventory whose group apps holds exactly `apps`."""
    copy = tmp_path / "inventory"
    shutil.copytree(inventory_dir(), copy)
    hosts_file = copy / Path(os.environ["MOLECULE_INVENTORY_FILE"]).name
    data = yaml.safe_load(hosts_file.read_text())
    # Molecule writes each group at the top level, the hosts' connection settings under all.
    data.setdefault("apps", {})["hosts"] = {name: {} for name in apps}
    hosts_file.write_text(yaml.safe_dump(data))
    return copy


def under_load(password: str, action: Callable[[], subprocess.CompletedProcess[str]]):
    """Run the action while users sign in and load pages through both fronts (paced: about 40 requests
    a second, so that the load does not take the CPU the operation under test needs)."""
    with Load(site_user(password), clients=4, max_requests=20000, max_seconds=600, pause=0.1) as load:
        load.wait_for(8, since=0, timeout=30)  # the load is flowing before the operation starts
        try:
            outcome = action()
        finally:
            load.wait_for(8, since=time.monotonic(), timeout=30)  # and still answered after it ended
    return outcome, load


def releases(apps: tuple[str, ...] = APPS) -> dict[str, str]:
    return {name: node(name).check_output(f"basename $(readlink -f {APP_ROOT}/current)") for name in apps}


def upstream_servers() -> dict[str, list[str]]:
    """The server lines of each front's upstream."""
    return {name: node(name).check_output(f"grep -E '^\\s*server ' {UPSTREAM}").splitlines() for name in FRONT_NAMES}


def every_node_is_up() -> bool:
    return all(" down;" not in line for lines in upstream_servers().values() for line in lines)


def restart_window(name: str) -> tuple[int, int]:
    """When the app's service last stopped and became active again (CLOCK_MONOTONIC, shared by the containers)."""
    out = node(name).check_output(
        f"systemctl show -p ActiveExitTimestampMonotonic -p ActiveEnterTimestampMonotonic --value {APP}.service"
    )
    entered, exited = (int(v) for v in out.split())
    return exited, entered


def report(capsys, step: str, load: Load) -> None:
    with capsys.disabled():
        print(f"\n{step}: {load}; served by {dict(load.values())}")


@pytest.fixture(scope="module")
def new_release() -> str:
    return f"0.1.0-rolled{int(time.time())}"


@pytest.fixture(scope="module")
def original() -> dict[str, str]:
    """The release every node served before this module's deploy."""
    return releases()


def test_a_deploy_killed_while_a_node_is_out_is_completed_by_the_next_one(
    demo_password: str, new_release: str, original: dict[str, str], capsys
) -> None:
    assert len(set(original.values())) == 1
    forget_step_runs()
    status_seen: dict[str, str] = {}
    step = extra(app_release_command=STEP)

    def killed_then_completed() -> subprocess.CompletedProcess[str]:
        cmd = ["ansible-playbook", "-i", str(inventory_dir()), str(PROJECT / "playbooks" / "deploy.yml")]
        cmd += ["-e", f"release={new_release}", "-e", step]
        with subprocess.Popen(
            cmd, env=ansible_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        ) as first:
            deadline = time.monotonic() + 400
            while time.monotonic() < deadline and first.poll() is None:
                if "node_out=app1" in node("front1").run(f"cat {LOCK}").stdout:
                    break
                time.sleep(0.5)
            os.killpg(first.pid, signal.SIGKILL)
        status_seen["out"] = playbook("status.yml").stdout
        return playbook("deploy.yml", f"release={new_release}", step)

    result, load = under_load(demo_password, killed_then_completed)
    report(capsys, f"deploy {new_release} killed with app1 out, then deployed again", load)
    assert "HELD by" in status_seen["out"] and "node out: app1" in status_seen["out"], status_seen["out"][-3000:]
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Took over the deploy lock of run" in result.stdout
    # The release step ran before app1 went out; the run that completes the deploy does not run it again.
    assert f"no release step: it already ran for {new_release}" in result.stdout
    assert [line.split()[1] for line in step_runs()["app1"]] == [new_release]
    assert load.sent > 100
    assert not load.failed(), load.failures()
    assert set(releases().values()) == {new_release}
    # Each app node serves it (as a front's health check sees it) and keeps what served before as previous.
    for name in APPS:
        assert json.loads(node("front1").check_output(direct(name)))["release"] == new_release
        assert node(name).check_output(f"basename $(readlink -f {APP_ROOT}/previous)") == original[name]
    assert every_node_is_up()
    assert not node("front1").file(LOCK).exists


def test_a_release_that_never_gets_healthy_stops_the_deploy_and_nothing_is_lost(
    demo_password: str, original: dict[str, str], capsys
) -> None:
    before = releases()
    result, load = under_load(
        demo_password,
        lambda: playbook(
            "deploy.yml", "release=0.0.2-unhealthy", f"app_source={SCENARIO / 'unhealthy'}", "app_health_timeout=8"
        ),
    )
    report(capsys, "deploy of an unhealthy release", load)
    assert result.returncode != 0
    assert "deploy stopped at app1" in result.stdout
    assert "app1 serves " + before["app1"] + " again" in result.stdout
    assert not load.failed(), load.failures()
    assert releases() == before
    # Nor has the failed deploy moved what a rollback goes back to.
    previous = {name: node(name).check_output(f"basename $(readlink -f {APP_ROOT}/previous)") for name in APPS}
    assert previous == original
    assert every_node_is_up()
    assert not node("front1").file(LOCK).exists


def process_identity(read: Callable[[str], str], pid: str) -> dict[str, str]:
    """What a lock records of its run's process: number, start time, PID namespace, boot."""
    return {
        "pid": pid,
        "pid_start": read(f"sed 's/.*) //' /proc/{pid}/stat | cut -d' ' -f20").strip(),
        "pid_ns": "".join(c for c in read(f"readlink /proc/{pid}/ns/pid") if c.isdigit()),
        "boot_id": read("cat /proc/sys/kernel/random/boot_id").strip(),
    }


def write_lock(run: str, identity: dict[str, str], node_out: str = "") -> None:
    """A lock as another run writes it, from this controller's machine (its machine id)."""
    machine_id = Path("/etc/machine-id").read_text().strip()
    lines = {"run": run, "user": "alice", "controller": "laptop", "controller_id": machine_id, **identity,
             "since": "2026-01-01T00:00:00Z", "action": "deploy", "release": "9.9.9-other",
             "node_out": node_out}  # fmt: skip
    text = "".join(f"{key}={value}\n" for key, value in lines.items())
    node("front1").check_output(f"mkdir -p /var/lib/flask-stack && printf %s '{text}' > {LOCK}")


def controller_read(command: str) -> str:
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True).stdout


def test_a_live_run_in_another_container_with_the_same_machine_id_keeps_its_lock() -> None:
    """Containers cloned from one image share a machine id (and the kernel's boot id); the
    holder's PID namespace tells them apart: the deploy stops, the lock is left alone."""
    app1, front1 = node("app1"), node("front1")
    app1.check_output("systemd-run --unit=lock-holder --collect -p RuntimeMaxSec=120 sleep 120")
    before = releases()
    listing = {name: node(name).check_output(f"ls {APP_ROOT}/releases") for name in APPS}
    try:
        pid = app1.check_output("systemctl show -p MainPID --value lock-holder")
        write_lock("other", process_identity(app1.check_output, pid))
        result = playbook("deploy.yml", "release=0.1.0-blocked")
        status = playbook("status.yml")
        lock = front1.file(LOCK).content_string
    finally:
        app1.run("systemctl stop lock-holder")
        front1.check_output(f"rm -f {LOCK}")
    assert result.returncode != 0
    assert "taken from another controller, container or boot" in result.stdout
    assert "user=alice" in result.stdout
    assert "run=other" in lock and "took_over" not in lock  # the other run's lock was left alone
    assert "HELD by alice@laptop" in status.stdout  # status shows the lock and leaves it
    assert releases() == before
    assert {name: node(name).check_output(f"ls {APP_ROOT}/releases") for name in APPS} == listing


def test_unlock_leaves_a_live_runs_lock_unless_forced_and_keeps_its_node_out() -> None:
    """A run alive on this controller, holding app2 out: unlock.yml refuses and changes
    nothing; forced, it breaks the lock but leaves app2 out; a plain unlock then puts it back."""
    holder = subprocess.Popen(["sleep", "120"])
    try:
        write_lock("live", process_identity(controller_read, str(holder.pid)), node_out="app2")
        refused = playbook("unlock.yml")
        assert node("front1").file(LOCK).exists
        forced = playbook("unlock.yml", "force=true")
        kept_out = upstream_servers()
    finally:
        holder.kill()
        node("front1").check_output(f"rm -f {LOCK}")
    assert refused.returncode != 0
    assert "is running on this controller; nothing was changed" in refused.stdout
    assert forced.returncode == 0, forced.stdout[-3000:]
    for lines in kept_out.values():  # each server line ends with "# <host>"
        assert sorted(line.split("#")[-1].strip() for line in lines if " down;" in line) == ["app2"], lines
    assert playbook("unlock.yml").returncode == 0
    assert every_node_is_up()


def test_status_prints_one_line_per_node() -> None:
    result = playbook("status.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    for name in (*FRONT_NAMES, *APPS):
        assert name in result.stdout
    assert "app1=up/200" in result.stdout
    assert "deploy lock on front1: free" in result.stdout
    assert (
        "alerts firing (Prometheus on mon1): " in result.stdout
    )  # role monitor's line (test_monitor.py has one firing)


def test_a_deploy_with_an_app_node_stopped_refuses_before_touching_anything() -> None:
    app2 = node("app2")
    before = releases()
    app2.check_output(f"systemctl stop {APP}.socket {APP}.service")
    try:
        result = playbook("deploy.yml", "release=0.1.0-refused")
    finally:
        app2.check_output(f"systemctl start {APP}.socket {APP}.service")
    assert result.returncode != 0
    assert "app2 does not answer its health check from front1" in result.stdout
    assert "Nothing was changed and no lock was taken" in result.stdout
    assert releases() == before
    assert not node("front1").file(LOCK).exists
    assert not any(node(name).file(f"{APP_ROOT}/releases/0.1.0-refused").exists for name in APPS)


def test_site_with_a_setting_the_app_refuses_fails_before_any_app_node_restarts(demo_password: str, capsys) -> None:
    def main_pids() -> dict[str, str]:
        return {n: node(n).check_output(f"systemctl show -p MainPID --value {APP}.service") for n in APPS}

    env_file = f"{APP_CONFIG_DIR}/environment"
    files_before = {name: node(name).check_output(f"sha256sum {env_file}") for name in APPS}
    pids_before = main_pids()
    result, load = under_load(
        demo_password,
        # Well-formed for role app's input checks (tests/test_inputs.py has what they refuse);
        # only the app's own code, loading the staged settings, refuses it.
        lambda: playbook("site.yml", '{"app_environment": {"LOGINAPP_ENV": "staging"}}'),
    )
    report(capsys, "site.yml with a setting the app refuses", load)
    assert result.returncode != 0
    assert "cannot load loginapp.wsgi:app with the staged settings on app1" in result.stdout
    assert "LOGINAPP_ENV must be 'production' or 'development'" in result.stdout
    assert not load.failed(), load.failures()
    assert main_pids() == pids_before  # nothing restarted
    assert {name: node(name).check_output(f"sha256sum {env_file}") for name in APPS} == files_before
    assert not node("front1").file(LOCK).exists


def test_a_rolling_restart_with_a_single_app_node_loses_no_request(demo_password: str, tmp_path: Path, capsys) -> None:
    only_app1 = inventory_with_apps(tmp_path, ["app1"])
    before = restart_window("app1")
    result, load = under_load(demo_password, lambda: playbook("restart.yml", inventory=only_app1))
    report(capsys, "rolling restart with app1 as the only app node", load)
    assert result.returncode == 0, result.stdout[-4000:]
    assert not load.failed(), load.failures()
    assert restart_window("app1") != before
    assert all(len(lines) == 1 and "down" not in lines[0] for lines in upstream_servers().values())


def peer_serial(name: str, served_by: str | None = None) -> str:
    """The serial of a node's certificate for mutual TLS: the file's, or the one app node `served_by`
    presents to this node (a front)."""
    if served_by is None:
        return node(name).check_output(f"openssl x509 -noout -serial -in {PEER_CERT}")
    return node(name).check_output(
        f"openssl s_client -connect {address(served_by)}:{APP_PORT} -cert {PEER_CERT} -key {PEER_KEY}"
        f" </dev/null 2>/dev/null | openssl x509 -noout -serial"
    )


def test_a_third_app_node_a_new_setting_and_renewed_certificates_roll_one_node_at_a_time(
    demo_password: str, tmp_path: Path, capsys
) -> None:
    """site.yml with app3 in the inventory, app_threads=3, and every certificate due for renewal
    (tls_renew_days above the days left): one node at a time, under load, nothing lost."""
    three = inventory_with_apps(tmp_path, ["app1", "app2", "app3"])
    before = {name: peer_serial(name) for name in ("front1", "app1")}
    renew = ("tls_cert_days=120", "tls_renew_days=100")
    result, load = under_load(demo_password, lambda: playbook("site.yml", "app_threads=3", *renew, inventory=three))
    report(capsys, "site.yml adding app3 (one inventory line) with app_threads=3 and renewed certificates", load)
    assert result.returncode == 0, result.stdout[-4000:]
    assert not load.failed(), load.failures()
    after = {name: peer_serial(name) for name in ("front1", "app1")}
    assert all(after[name] != before[name] for name in after), (before, after)
    assert peer_serial("front1", served_by="app1") == after["app1"], "app1 serves its renewed certificate"
    for front, lines in upstream_servers().items():
        assert len(lines) == 3 and not any(" down;" in line for line in lines), (front, lines)
        assert lines[-1].endswith("# app3")
    assert len(set(releases(("app1", "app2", "app3")).values())) == 1
    windows = sorted(restart_window(name) for name in ("app1", "app2", "app3"))
    for (_, earlier_up), (later_down, _) in itertools.pairwise(windows):
        assert earlier_up <= later_down, f"restarts overlap: {windows}"
    for name in ("app1", "app2", "app3"):
        assert "threads = 3" in node(name).file(f"{APP_CONFIG_DIR}/gunicorn.conf.py").content_string


def test_no_secret_lands_in_a_journal_or_a_file_outside_the_config_directory(tmp_path: Path) -> None:
    """After site.yml, deploys and a rollback (the tests above), over sudo as on a real VM."""
    secrets = [
        (EPHEMERAL / "secrets" / "secret_key").read_text().strip(),
        (EPHEMERAL / "secrets" / "demo_password").read_text().strip(),
    ]
    patterns = tmp_path / "patterns"
    patterns.write_text("\n".join(secrets) + "\n")
    probe = f"{APP_CONFIG_DIR}/.secret-probe"
    for name in (*FRONT_NAMES, *APPS):
        host = node(name)
        journal = host.check_output("journalctl --no-pager --output cat")
        assert "COMMAND=" in journal, f"{name}'s journal should hold the sudo lines of the runs"
        assert not any(secret in journal for secret in secrets), f"a secret is in {name}'s journal"
        # The patterns reach the node by docker cp, never on a command line.
        host.check_output(f"mkdir -p {APP_CONFIG_DIR}")
        subprocess.run(["docker", "cp", str(patterns), f"{name}:{probe}"], check=True, capture_output=True)
        try:
            found = host.run(
                f"find /etc /var /opt /srv /root /home /tmp /run -path {APP_CONFIG_DIR} -prune -o -type f -print0 "
                f"| xargs -0 grep -lsF -f {probe}"
            ).stdout.split()
        finally:
            host.run(f"rm -f {probe}")
        assert found == [], f"{name}: a secret is in {found}"


# --- Day to day: logs.yml and exec.yml (read-only / beside the service) ---------------------


def task_messages(output: str, task: str) -> dict[str, str]:
    """The msg each host printed in `task` of a run (the tests' runs print results as JSON)."""
    messages: dict[str, str] = {}
    decoder = json.JSONDecoder()
    for section in output.split(f"TASK [{task}] ")[1:]:
        section = section.split("\nTASK [")[0]
        for head in section.split("\nok: [")[1:]:
            host, _, rest = head.partition("]")
            result, _ = decoder.raw_decode(rest[rest.index("{") :])
            messages[host] = result["msg"]
    return messages


def main_pid(name: str) -> str:
    return node(name).check_output(f"systemctl show -p MainPID --value {APP}.service")


def usr1_lines(name: str, since: int) -> int:
    """How many 'Handling signal: usr1' lines Gunicorn wrote on `name` since `since` (epoch seconds)."""
    out = node(name).check_output(
        f"journalctl -u {APP}.service --no-pager -o cat --since @{since} | grep -c 'Handling signal: usr1' || true"
    )
    return int(out or 0)


def test_logs_merges_the_app_nodes_journals_by_time_each_line_tagged_with_its_node() -> None:
    # Gunicorn logs "Handling signal: usr1" when asked to reopen its log files (harmless: it
    # logs to the journal). app1, then app2, then app1 again: merged by time, not by node.
    since = int(time.time()) - 1
    order = ["app1", "app2", "app1"]
    for name in order:
        before = usr1_lines(name, since)
        node(name).check_output(f"kill -USR1 {main_pid(name)}")
        deadline = time.monotonic() + 10
        while usr1_lines(name, since) == before and time.monotonic() < deadline:
            time.sleep(0.2)
        assert usr1_lines(name, since) == before + 1, f"{name} did not log the signal"
        time.sleep(0.05)
    result = playbook("logs.yml", extra(since=f"@{since}", grep="Handling signal: usr1"))
    assert result.returncode == 0, result.stdout[-3000:]
    printed = task_messages(result.stdout, "Print the lines, oldest first")["localhost"].splitlines()
    # '<time> <node> app <identifier>[<pid>]: ... Handling signal: usr1', oldest first.
    tagged = [line.split()[1:3] for line in printed]
    assert tagged == [[name, "app"] for name in order], printed
    times = [line.split()[0] for line in printed]
    assert times == sorted(times) and len(set(times)) == 3, printed
    assert all(line.endswith("Handling signal: usr1") for line in printed), printed
    assert "logs: 3 lines since" in result.stdout and "from app1, app2" in result.stdout


def test_logs_shows_the_fronts_access_lines_only_when_asked_for(tmp_path: Path) -> None:
    from conftest import Browser, https_url  # a user's request, as in test_cluster.py

    since = int(time.time()) - 1
    answer = Browser(tmp_path / "cookies.txt").request(https_url("front2", "/healthz"))
    assert answer.status == 200
    request_id = answer.header("x-request-id")
    assert request_id
    without = playbook("logs.yml", f"since=@{since}", f"grep={request_id}")
    with_nginx = playbook("logs.yml", f"since=@{since}", f"grep={request_id}", "nodes=app1,front2")
    assert without.returncode == 0 and with_nginx.returncode == 0, with_nginx.stdout[-3000:]
    assert task_messages(without.stdout, "Print the lines, oldest first")["localhost"] == "No line in the window."
    printed = task_messages(with_nginx.stdout, "Print the lines, oldest first")["localhost"].splitlines()
    assert len(printed) == 1, printed
    assert printed[0].split()[1:6] == ["front2", "access", "GET", "/healthz", "200"], printed
    assert printed[0].endswith(f"id={request_id}")


def test_exec_runs_a_command_in_the_current_release_s_venv_on_every_app_node() -> None:
    result = playbook("exec.yml", extra(cmd="python -c 'import sys; print(sys.prefix)'"))
    assert result.returncode == 0, result.stdout[-3000:]
    printed = task_messages(result.stdout, "Print what the command printed on this node and its exit code")
    current = releases()
    assert set(printed) == set(APPS)
    for name in APPS:
        assert printed[name].splitlines() == [
            f"{name} (release {current[name]}): exit code 0",
            "stdout:",
            f"  {APP_ROOT}/releases/{current[name]}/venv",
        ], printed[name]
    assert "exec on app1, app2: exit code 0 on every node" in result.stdout


def test_exec_runs_as_the_app_with_its_environment_and_prints_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_VERBOSITY", "1")  # as with -v: every task's arguments and result
    secret = (EPHEMERAL / "secrets" / "secret_key").read_text().strip()
    script = (
        "import os, pwd; "
        "print(pwd.getpwuid(os.getuid()).pw_name, os.getcwd(), 'LOGINAPP_SECRET_KEY' in os.environ, "
        "os.environ['LOGINAPP_RELEASE'])"
    )
    # $USER reaches the node's shell as typed: systemd sets it for the app's user.
    result = playbook("exec.yml", extra(cmd=f'echo "$USER"; python -c "{script}"', nodes="app2"))
    assert result.returncode == 0, result.stdout[-3000:]
    release = releases(("app2",))["app2"]
    printed = task_messages(result.stdout, "Print what the command printed on this node and its exit code")
    assert set(printed) == {"app2"}  # nodes=app2: app1 does not run it
    assert printed["app2"].splitlines()[2:] == [f"  {APP}", f"  {APP} {APP_ROOT}/releases/{release} True {release}"]
    assert "/bin/sh" in result.stdout  # -v took effect: the command's arguments are printed
    assert secret not in result.stdout


def test_exec_fails_naming_the_node_whose_command_failed() -> None:
    flag = "/run/flask-stack-exec-test"
    node("app2").check_output(f"touch {flag}")
    try:
        result = playbook("exec.yml", extra(cmd=f"if [ -e {flag} ]; then echo failing >&2; exit 3; fi; echo fine"))
    finally:
        node("app2").check_output(f"rm -f {flag}")
    assert result.returncode != 0
    printed = task_messages(result.stdout, "Print what the command printed on this node and its exit code")
    assert printed["app1"].splitlines()[0].endswith("exit code 0")
    first, *rest = printed["app2"].splitlines()
    assert first.endswith("exit code 3") and rest == ["stdout: (nothing)", "stderr:", "  failing"], printed["app2"]
    assert "exec failed on app2: app1 exit code 0, app2 exit code 3." in result.stdout


# --- Static files that survive a rollout: every page's stylesheet answers, old and new --------

import hashlib  # noqa: E402  (imported here: the tests above this section do not need them)
import re  # noqa: E402

from conftest import FRONTS, Browser, https_url  # noqa: E402

HASHED_STYLESHEET = re.compile(r"/static/style\.(?P<digest>[0-9a-f]{12})\.css")
RESTYLE = "\n/* restyled by the cluster test */\nmain { outline: 1px solid transparent; }\n"


def under_load_with_pages(password: str, action: Callable[[], subprocess.CompletedProcess[str]]):
    """under_load() (sign-ins, pages, health checks) plus users who fetch each page's stylesheet (paced, so
    that the count bound outlasts a slow deploy: the pages must span the switch)."""
    with Load(page_user, clients=2, max_requests=20000, max_seconds=900, pause=0.1) as pages:
        outcome, load = under_load(password, action)
    return outcome, load, pages


def stylesheet_of_the_sign_in_page(browser: Browser) -> str:
    """The stylesheet link of the Sign In page, the same through every front."""
    links = {STYLESHEET.findall(browser.request(https_url(front)).body)[0] for front in FRONTS}
    assert len(links) == 1, links
    return links.pop()


def assert_hashed_stylesheet_answers(browser: Browser, href: str) -> str:
    """A content-hashed stylesheet answers 200 through every front, immutable, with the content its name hashes."""
    match = HASHED_STYLESHEET.fullmatch(href)
    assert match, f"{href} is not a content-hashed name"
    bodies = set()
    for front in FRONTS:
        answer = browser.request(https_url(front, href))
        assert answer.status == 200, (front, href, answer.status)
        assert answer.header("Cache-Control") == "public, max-age=31536000, immutable"
        assert answer.header("Content-Type") == "text/css"
        assert hashlib.sha256(answer.body.encode()).hexdigest()[:12] == match["digest"], (front, href)
        bodies.add(answer.body)
    assert len(bodies) == 1
    return bodies.pop()


def assert_plain_stylesheet_is(browser: Browser, css: str) -> None:
    """/static/style.css (the error pages' link) has the newest release's content, cached briefly."""
    for front in FRONTS:
        answer = browser.request(https_url(front, "/static/style.css"))
        assert answer.status == 200, front
        assert answer.header("Cache-Control") == "public, max-age=300", front
        assert answer.body == css, front


@pytest.fixture(scope="module")
def restyled_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app with one more rule in style.css: a copy of app/ (lock files included), nothing else changed."""
    source = tmp_path_factory.mktemp("restyled") / "app"
    ignored = shutil.ignore_patterns(".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis")
    shutil.copytree(PROJECT / "app", source, ignore=ignored)
    css = source / "src" / "loginapp" / "static" / "style.css"
    css.write_text(css.read_text() + RESTYLE)
    return source


@pytest.fixture(scope="module")
def restyled_release() -> str:
    return f"0.1.0-restyled{int(time.time())}"


def test_a_release_step_past_its_time_is_stopped_and_never_joined_by_a_second(
    restyled_app: Path, restyled_release: str
) -> None:
    """The time limit is on the step's unit: when it is up the step itself stops, not only the client.
    The next deploy of that release (the restyle test below) runs the step once."""
    unit = f"{APP}-release-step.service"
    before = releases()
    source = f"app_source={restyled_app}"
    slow = playbook(
        "deploy.yml",
        f"release={restyled_release}",
        source,
        extra(app_release_command="echo started; sleep 120", app_release_command_timeout=3),
    )
    assert slow.returncode != 0
    assert (
        f"The release step of {restyled_release} was stopped after 3 s (app_release_command_timeout) on app1"
        in slow.stdout
    ), slow.stdout[-3000:]
    assert node("app1").run(f"systemctl is-active {unit}").stdout.strip() in ("inactive", "failed")  # the unit is gone
    assert node("app1").run("pgrep -x sleep").rc == 1, "nothing of the step runs on"
    assert releases() == before

    # A step that still runs (started by hand here) is never joined by a second one.
    node("app1").check_output(f"systemd-run --unit={unit} sleep 120")
    try:
        refused = playbook("deploy.yml", f"release={restyled_release}", source, extra(app_release_command=STEP))
    finally:
        node("app1").run(f"systemctl stop {unit}")
    assert refused.returncode != 0
    assert f"A release step still runs on app1 (active: systemctl status {unit})" in refused.stdout
    assert releases() == before


@pytest.fixture(scope="module")
def restyle() -> dict[str, object]:
    """What the restyle test saw, for the rollback test after it."""
    return {}


def test_a_deploy_that_changes_the_stylesheet_keeps_every_pages_stylesheet_answering(
    demo_password: str,
    restyled_app: Path,
    restyled_release: str,
    restyle: dict[str, object],
    browser: Browser,
    tmp_path: Path,
    capsys,
) -> None:
    """Also the release step (once, on one node, before any node switches; the release's step ran past
    its time in the test above, and this deploy runs it once) and the hooks."""
    before = releases()
    assert len(set(before.values())) == 1
    old_href = stylesheet_of_the_sign_in_page(browser)
    old_css = assert_hashed_stylesheet_answers(browser, old_href)
    restyled = restyled_release
    restyle.update(before=before, old_href=old_href, old_css=old_css)
    forget_step_runs()
    seen = tmp_path / "hooks"
    hook = f'echo "$DEPLOY_PHASE $DEPLOY_RELEASE $DEPLOY_PREVIOUS $DEPLOY_USER $DEPLOY_NODES" >> {seen}'
    hooks = extra(app_release_command=STEP, hooks_pre_deploy=[hook], hooks_post_deploy=[hook])

    started = time.time()
    result, load, pages = under_load_with_pages(
        demo_password, lambda: playbook("deploy.yml", f"release={restyled}", f"app_source={restyled_app}", hooks)
    )
    ended = time.time()
    report(capsys, f"deploy {restyled} with a new style.css", load)
    with capsys.disabled():
        print(f"  and {pages}; stylesheets linked: {dict(pages.values())}")
    assert result.returncode == 0, result.stdout[-4000:]
    # The release step: once, on app1, in the new release's venv, not as root, before any node switched.
    runs = step_runs()
    assert runs["app2"] == [] and len(runs["app1"]) == 1, runs
    when, step_release, step_previous, prefix, uid = runs["app1"][0].split()
    assert (step_release, step_previous) == (restyled, before["app1"])
    assert prefix == f"{APP_ROOT}/releases/{restyled}/venv"
    assert uid != "0"
    switched = min(restart_window(name)[1] for name in APPS)
    assert int(when) < switched, "the release step ran after a node switched"
    # The hooks, before and after, saw the releases, the user and the nodes.
    lines = seen.read_text().splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["pre_deploy", restyled, before["app1"]],
        ["post_deploy", restyled, before["app1"]],
    ]
    assert all(line.split()[3:] == [getpass.getuser(), *APPS] for line in lines), lines
    assert not load.failed(), load.failures()
    assert pages.sent > 50
    assert not pages.failed(), pages.failures()
    assert set(releases().values()) == {restyled}
    new_href = stylesheet_of_the_sign_in_page(browser)
    assert new_href != old_href
    # Pages of the old release before and while old and new nodes served side by side, of the
    # new one after: every one of them found its stylesheet.
    assert set(pages.values()) == {old_href, new_href}
    new_css = assert_hashed_stylesheet_answers(browser, new_href)
    assert new_css.endswith(RESTYLE)
    assert assert_hashed_stylesheet_answers(browser, old_href) == old_css, "the old release's file is kept"
    assert_plain_stylesheet_is(browser, new_css)
    # The monitor node saw the rolling deploy and no alert fired (role monitor; each node was out for seconds).
    assert alerts_fired_between(started, ended + 5) == []
    # Each app node's alerts were silenced while it was out, and the silence lifted once it was back.
    silences = monitor_api("http://127.0.0.1:9093/api/v2/silences")
    ours = {
        s["matchers"][0]["value"]: s["status"]["state"]  # type: ignore[index]
        for s in silences  # type: ignore[union-attr]
        if s["comment"].startswith(f"deploy {restyled}: ")  # type: ignore[index]
    }
    assert ours == {name: "expired" for name in APPS}, silences
    restyle.update(new_href=new_href, release=restyled)


def test_a_rollback_returns_every_node_to_the_previous_release_and_its_stylesheet(
    demo_password: str, restyle: dict[str, object], browser: Browser, capsys
) -> None:
    """Also: it names the release step it does not undo, and the audit trail, status.yml and
    releases.yml show the operations."""
    assert "new_href" in restyle, "the restyle deploy above did not complete"
    before, newest = dict(restyle["before"]), str(restyle["release"])  # type: ignore[call-overload]
    result, load, pages = under_load_with_pages(demo_password, lambda: playbook("rollback.yml"))
    report(capsys, "rollback from the restyled release", load)
    with capsys.disabled():
        print(f"  and {pages}; stylesheets linked: {dict(pages.values())}")
    assert result.returncode == 0, result.stdout[-4000:]
    assert not load.failed(), load.failures()
    assert not pages.failed(), pages.failures()
    assert releases() == before
    assert f"the release step ran for {newest}" in result.stdout
    lines = audit_lines()
    actions = [(line["action"], line["release"], line["previous"], line["result"]) for line in lines[-3:]]
    assert actions == [
        ("release-step", newest, before["app1"], "ok"),
        ("deploy", newest, before["app1"], "ok"),
        ("rollback", before["app1"], newest, "ok"),
    ], actions
    for line in lines[-3:]:
        assert line["user"] and line["controller"] and line["duration"] > 0
    status = playbook("status.yml").stdout
    assert "last 5 operations" in status
    assert f"rollback        {before['app1']} (was {newest})" in status
    listed = playbook("releases.yml").stdout
    assert f"app1       {before['app1']}" in listed and "current" in listed
    assert newest in listed
    assert stylesheet_of_the_sign_in_page(browser) == restyle["old_href"]
    assert restyle["old_href"] in pages.values()
    assert set(pages.values()) <= {restyle["old_href"], restyle["new_href"]}
    assert assert_hashed_stylesheet_answers(browser, str(restyle["old_href"])) == restyle["old_css"]
    assert_plain_stylesheet_is(browser, str(restyle["old_css"]))
