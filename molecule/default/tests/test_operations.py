"""Operations as a user runs them, under a bounded load through both fronts: a rolling
deploy, a deploy whose release never gets healthy, a rollback, and the deploy lock."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import testinfra
from load import LoadResult, run_load
from scenario_helpers import run_playbook

PROJECT = Path(__file__).resolve().parents[3]
SCENARIO = PROJECT / "molecule" / "default"
APPS = ("app1", "app2")
FRONT_NAMES = ("front1", "front2")


def node(name: str):
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def playbook(name: str, *extra_vars: str) -> subprocess.CompletedProcess[str]:
    """Run one of the project's playbooks against the cluster (its inventory directory has the group_vars)."""
    inventory = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
    return run_playbook(PROJECT / "playbooks" / name, *extra_vars, inventory=inventory)


def under_load(password: str, action: Callable[[], subprocess.CompletedProcess[str]]):
    stop = threading.Event()
    box: dict[str, LoadResult] = {}
    thread = threading.Thread(target=lambda: box.setdefault("load", run_load(password, stop)), daemon=True)
    thread.start()
    time.sleep(2)  # the load is flowing before the operation starts
    try:
        outcome = action()
    finally:
        time.sleep(2)
        stop.set()
        thread.join(120)
    return outcome, box["load"]


def releases() -> dict[str, str]:
    return {name: node(name).check_output("basename $(readlink -f /opt/loginapp/current)") for name in APPS}


def upstream_flags() -> dict[str, str]:
    return {
        name: node(name).check_output("grep -E '^\\s*server ' /etc/nginx/conf.d/flask-stack-upstream.conf")
        for name in FRONT_NAMES
    }


def report(capsys, step: str, load: LoadResult) -> None:
    with capsys.disabled():
        print(f"\n{step}: {load}; served by {dict(load.served_by)}")


@pytest.fixture(scope="module")
def new_release() -> str:
    return f"0.1.0-rolled{int(time.time())}"


@pytest.fixture(scope="module")
def original() -> dict[str, str]:
    """The release every node served before this module's deploy."""
    return releases()


def test_a_rolling_deploy_loses_no_request(demo_password: str, new_release: str, original, capsys) -> None:
    assert len(set(original.values())) == 1
    result, load = under_load(demo_password, lambda: playbook("deploy.yml", f"release={new_release}"))
    report(capsys, f"deploy {new_release}", load)
    assert result.returncode == 0, result.stdout[-4000:]
    assert load.sent > 100
    assert load.failed == 0, load.failures
    assert set(releases().values()) == {new_release}
    assert all(" down" not in flags for flags in upstream_flags().values())
    assert not node("front1").file("/var/lib/flask-stack/deploy.lock").exists


def test_a_release_that_never_gets_healthy_stops_the_deploy_and_nothing_is_lost(demo_password: str, capsys) -> None:
    before = releases()
    result, load = under_load(
        demo_password,
        lambda: playbook(
            "deploy.yml", "release=0.0.2-unhealthy", f"app_source={SCENARIO / 'unhealthy'}", "app_health_timeout=8"
        ),
    )
    report(capsys, "deploy of an unhealthy release", load)
    assert result.returncode != 0
    assert "deploy of release 0.0.2-unhealthy failed on app1" in result.stdout
    assert load.failed == 0, load.failures
    assert releases() == before
    assert all(" down" not in flags for flags in upstream_flags().values())
    assert not node("front1").file("/var/lib/flask-stack/deploy.lock").exists


def test_a_rollback_returns_every_node_to_the_previous_release(
    demo_password: str, new_release: str, original: dict[str, str], capsys
) -> None:
    assert set(releases().values()) == {new_release}
    previous = node("app1").check_output("basename $(readlink -f /opt/loginapp/previous)")
    # The failed deploy in between must not have moved what a rollback goes back to.
    assert {previous} == set(original.values())
    result, load = under_load(demo_password, lambda: playbook("rollback.yml"))
    report(capsys, f"rollback to {previous}", load)
    assert result.returncode == 0, result.stdout[-4000:]
    assert load.failed == 0, load.failures
    assert releases() == original


def test_a_deploy_stops_at_once_while_another_holds_the_lock(capsys) -> None:
    front1 = node("front1")
    front1.check_output(
        "mkdir -p /var/lib/flask-stack && printf 'run=other\\nuser=alice\\nsince=2026-01-01T00:00:00Z\\n"
        "action=deploy\\nrelease=9.9.9-other\\n' > /var/lib/flask-stack/deploy.lock"
    )
    before = releases()
    listing = {name: node(name).check_output("ls /opt/loginapp/releases") for name in APPS}
    try:
        result = playbook("deploy.yml", "release=0.1.0-blocked")
    finally:
        lock = front1.file("/var/lib/flask-stack/deploy.lock").content_string
        unlock = playbook("unlock.yml")
    assert result.returncode != 0
    assert "deploy lock" in result.stdout
    assert "user=alice" in result.stdout
    assert "run=other" in lock  # the other run's lock was left alone
    assert releases() == before
    assert {name: node(name).check_output("ls /opt/loginapp/releases") for name in APPS} == listing
    assert unlock.returncode == 0
    assert not front1.file("/var/lib/flask-stack/deploy.lock").exists


def test_status_prints_one_line_per_node() -> None:
    result = playbook("status.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    for name in (*FRONT_NAMES, *APPS):
        assert name in result.stdout
    assert "app1=up/200" in result.stdout
