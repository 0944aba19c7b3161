"""A deploy's release step and hooks, the audit trail and the list of releases, as an
operator sees them: the step runs once, on one node, before any node switches; a step or a
pre_deploy hook that fails changes nothing live; every operation leaves a line in the
audit trail that status.yml shows."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_operations import (
    LOCK,
    STEP,
    audit_lines,
    extra,
    forget_step_runs,
    playbook,
    releases,
    report,
    step_runs,
    under_load,
)

from conftest import node


@pytest.fixture(scope="module")
def before() -> dict[str, str]:
    """What every app node serves when the module starts (one release everywhere)."""
    served = releases()
    assert len(set(served.values())) == 1, served
    forget_step_runs()
    return served


@pytest.fixture(scope="module")
def release() -> str:
    """The release both failing deploys try: the first builds and stages it, the second finds it staged."""
    return f"0.1.0-failing{int(time.time())}"


def test_a_failing_pre_deploy_hook_stops_the_deploy_before_anything_changed(
    before, release: str, tmp_path: Path
) -> None:
    failed = tmp_path / "on_failure"
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


def test_a_failing_release_step_switches_no_node_and_loses_no_request(
    before, release: str, demo_password: str, capsys
) -> None:
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
    assert not load.failed(), load.failures()
    assert not node("front1").file(LOCK).exists
