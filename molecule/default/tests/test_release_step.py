"""A deploy's release step and hooks, the audit trail and the list of releases, as an
operator sees them: the step runs once, on one node, before any node switches; a step or a
pre_deploy hook that fails changes nothing live; every operation leaves a line in the
audit trail that status.yml shows."""

from __future__ import annotations

import getpass
import json
import time
from pathlib import Path

import pytest
from test_operations import LOCK, playbook, releases, report, restart_window, under_load

from conftest import node

AUDIT = "/var/log/flask-stack/audit.jsonl"
STEP_LOG = "/tmp/release-step.log"
# The release step: where and when it ran (CLOCK_MONOTONIC in µs, shared by the containers,
# as systemd's ActiveEnterTimestampMonotonic), in which venv, for which releases.
STEP = (
    "python -c 'import os, sys, time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000, "
    'os.environ["RELEASE"], os.environ["PREVIOUS_RELEASE"] or "-", sys.prefix, os.getuid())\' >> ' + STEP_LOG
)


def extra(**values: object) -> str:
    """Extra vars as JSON: commands with spaces and quotes pass through unchanged."""
    return json.dumps(values)


def audit_lines() -> list[dict]:
    return [json.loads(line) for line in node("front1").check_output(f"cat {AUDIT}").splitlines()]


def step_runs() -> dict[str, list[str]]:
    return {name: node(name).run(f"cat {STEP_LOG}").stdout.splitlines() for name in ("app1", "app2")}


@pytest.fixture(scope="module")
def before() -> dict[str, str]:
    """What every app node serves when the module starts (one release everywhere)."""
    served = releases()
    assert len(set(served.values())) == 1, served
    for name in ("app1", "app2"):
        node(name).run(f"rm -f {STEP_LOG}")
    return served


def test_a_failing_pre_deploy_hook_stops_the_deploy_before_anything_changed(before, tmp_path: Path) -> None:
    failed = tmp_path / "on_failure"
    release = f"0.1.0-hook{int(time.time())}"
    result = playbook(
        "deploy.yml",
        f"release={release}",
        extra(
            app_release_command=STEP,
            hooks_pre_deploy=["echo checking; exit 7"],
            hooks_on_failure=[f'echo "$DEPLOY_PHASE $DEPLOY_RELEASE" > {failed}'],
        ),
    )
    assert result.returncode != 0
    assert "deploy stopped before any node changed: " in result.stdout
    assert releases() == before
    assert step_runs() == {"app1": [], "app2": []}
    assert failed.read_text().strip() == f"on_failure {release}"
    assert not node("front1").file(LOCK).exists
    last = audit_lines()[-1]
    assert (last["action"], last["release"]) == ("deploy", release)
    assert last["result"].startswith("failed: deploy stopped before any node changed")


def test_a_failing_release_step_switches_no_node_and_loses_no_request(before, demo_password: str, capsys) -> None:
    release = f"0.1.0-stepfail{int(time.time())}"
    result, load = under_load(
        demo_password,
        lambda: playbook("deploy.yml", f"release={release}", extra(app_release_command="echo migrating; exit 3")),
    )
    report(capsys, "deploy with a release step that fails", load)
    assert result.returncode != 0
    assert f"The release step of {release} failed on app1 (exit 3); no app node switched" in result.stdout
    assert "migrating" in result.stdout
    assert releases() == before
    assert load.sent > 20
    assert load.failed == 0, load.failures
    assert not node("front1").file(LOCK).exists


def test_the_release_step_runs_once_before_any_node_switches_and_hooks_see_the_releases(
    before, tmp_path: Path, capsys
) -> None:
    seen = tmp_path / "hooks"
    release = f"0.1.0-step{int(time.time())}"
    previous = before["app1"]
    hook = f'echo "$DEPLOY_PHASE $DEPLOY_RELEASE $DEPLOY_PREVIOUS $DEPLOY_USER $DEPLOY_NODES" >> {seen}'
    result = playbook(
        "deploy.yml",
        f"release={release}",
        extra(app_release_command=STEP, hooks_pre_deploy=[hook], hooks_post_deploy=[hook]),
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert releases() == {"app1": release, "app2": release}
    runs = step_runs()
    assert runs["app2"] == [] and len(runs["app1"]) == 1, runs
    when, step_release, step_previous, prefix, uid = runs["app1"][0].split()
    assert (step_release, step_previous) == (release, previous)
    assert prefix == f"/srv/flaskapp/releases/{release}/venv"
    assert uid != "0"
    switched = min(restart_window(name)[1] for name in ("app1", "app2"))
    assert int(when) < switched, "the release step ran after a node switched"
    lines = seen.read_text().splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["pre_deploy", release, previous],
        ["post_deploy", release, previous],
    ]
    assert all(line.split()[3:] == [getpass.getuser(), "app1", "app2"] for line in lines), lines
    # The same release again: the step does not run twice.
    again = playbook("deploy.yml", f"release={release}", extra(app_release_command=STEP))
    assert again.returncode == 0, again.stdout[-3000:]
    assert f"no release step: it already ran for {release}" in again.stdout
    assert len(step_runs()["app1"]) == 1
    with capsys.disabled():
        print(f"\nrelease step ran at {when} µs, first node switched at {switched} µs")


def test_a_rollback_names_the_release_steps_it_does_not_undo_and_the_audit_trail_has_it_all(before) -> None:
    newest = releases()["app1"]
    result = playbook("rollback.yml", f"release={before['app1']}")
    assert result.returncode == 0, result.stdout[-4000:]
    assert releases() == before
    assert f"the release step ran for {newest}" in result.stdout
    lines = audit_lines()
    actions = [(line["action"], line["release"], line["previous"], line["result"]) for line in lines[-4:]]
    assert actions == [
        ("release-step", newest, before["app1"], "ok"),
        ("deploy", newest, before["app1"], "ok"),
        ("deploy", newest, newest, "ok"),
        ("rollback", before["app1"], newest, "ok"),
    ], actions
    for line in lines[-4:]:
        assert line["user"] and line["controller"] and line["duration"] > 0
    status = playbook("status.yml").stdout
    assert "last 5 operations" in status
    assert f"rollback        {before['app1']} (was {newest})" in status
    listed = playbook("releases.yml").stdout
    assert f"app1       {before['app1']}" in listed and "current" in listed
    assert newest in listed
