"""The short operation commands (make deploy, logs, exec, ...): the options reach the playbook as
typed, and the last line says what the run did or why it failed. ansible-playbook is a stand-in
that records its arguments and prints a run's output as the project's ansible.cfg prints it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

FAKE_PLAYBOOK = """#!/bin/sh
"$(dirname "$0")/python" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@" > "$FAKE_ARGS"
cat "$FAKE_OUTPUT"
exit "$FAKE_RC"
"""

SAID = """
TASK [Print what the command printed on this node and its exit code] ***********
Thursday 26 November 2026  11:25:59 +0000 (0:00:00.103)       0:00:07.409 *****
ok: [app1] =>
    msg: |-
        app1 (release 0.1.0-c140f25): exit code 0

TASK [Say what the run did] ****************************************************
ok: [localhost] =>
    msg: 'exec on app1, app2: exit code 0 on every node (python -c "import sys; print(sys.prefix)"
        and more words).'

PLAY RECAP *********************************************************************
app1                       : ok=8    changed=0    unreachable=0    failed=0    skipped=0
localhost                  : ok=3    changed=0    unreachable=0    failed=0    skipped=1
"""

FAILED = """
TASK [Check something on a node] ***********************************************
fatal: [app1]: FAILED! =>
    changed: false
    msg: an error that was ignored
...ignoring

TASK [Fail when a node's exit code is not 0] ***********************************
[ERROR]: Task failed: Action failed: exec failed on app2: app1 exit code 0, app2 exit code 3.
fatal: [localhost]: FAILED! =>
    changed: false
    msg: 'exec failed on app2: app1 exit code 0, app2 exit code 3.'

PLAY RECAP *********************************************************************
localhost                  : ok=2    changed=0    unreachable=0    failed=1    skipped=0
"""

SILENT = """
TASK [Print one line per node and the deploy lock] *****************************
ok: [localhost] =>
    msg: |-
        node       group   service
        deploy lock on front1: free

PLAY RECAP *********************************************************************
app1                       : ok=5    changed=0    unreachable=0    failed=0    skipped=0
front1                     : ok=9    changed=0    unreachable=0    failed=0    skipped=0
localhost                  : ok=1    changed=0    unreachable=0    failed=0    skipped=0
"""


@pytest.fixture
def make_op(tmp_path: Path):
    """Run `make <target> VAR=value ...` with a stand-in ansible-playbook; returns (result, its argv)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    fake = venv / "bin" / "ansible-playbook"
    fake.write_text(FAKE_PLAYBOOK)
    fake.chmod(0o755)
    (venv / ".installed").touch()  # newer than requirements.txt: `venv` has nothing to do

    def run(
        target: str, output: str, rc: int = 0, **options: str
    ) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        (tmp_path / "output").write_text(output)
        env = dict(os.environ, FAKE_ARGS=str(tmp_path / "args"), FAKE_OUTPUT=str(tmp_path / "output"), FAKE_RC=str(rc))
        for name in ("RELEASE", "SINCE", "GREP", "NODES", "LINES", "NGINX", "CMD", "MESSAGE", "ALLOW", "ARGS"):
            env.pop(name, None)
        cmd = ["make", "--no-print-directory", "-C", str(ROOT), f"VENV={os.path.relpath(venv, ROOT)}", target]
        cmd += [f"{name}={value}" for name, value in options.items()]
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
        argv = json.loads((tmp_path / "args").read_text()) if (tmp_path / "args").exists() else []
        return result, argv

    return run


def extra_vars(argv: list[str]) -> dict[str, str]:
    return json.loads(argv[argv.index("-e") + 1])


def test_exec_passes_the_command_as_typed_and_ends_with_what_the_run_did(make_op) -> None:
    command = """echo "$HOME" $$ $(id -u) 'it''s' # not a comment"""
    result, argv = make_op("exec", SAID, CMD=command, NODES="app1")
    assert result.returncode == 0, result.stderr
    assert argv[:3] == ["-i", "inventory/lab", "playbooks/exec.yml"]
    assert extra_vars(argv) == {"cmd": command, "nodes": "app1"}
    assert result.stdout.splitlines()[-1] == (
        '==> exec on app1, app2: exit code 0 on every node (python -c "import sys; print(sys.prefix)" and more words).'
    )


def test_a_failed_run_ends_with_its_failure_and_its_exit_code(make_op) -> None:
    result, _ = make_op("exec", FAILED, rc=2, CMD="exit 3")
    assert result.returncode == 2
    assert result.stdout.splitlines()[-1] == (
        "==> make exec failed (ansible-playbook exit 2): exec failed on app2: app1 exit code 0, app2 exit code 3."
    )


def test_a_run_without_a_summary_names_the_nodes_it_ran_on(make_op) -> None:
    result, argv = make_op("status", SILENT, INVENTORY="inventory/example")
    assert result.returncode == 0, result.stderr
    assert argv[:3] == ["-i", "inventory/example", "playbooks/status.yml"]
    assert extra_vars(argv) == {}
    assert result.stdout.splitlines()[-1] == "==> make status: done on app1, front1."


def test_each_option_reaches_its_playbook(make_op) -> None:
    _, argv = make_op("logs", SAID, SINCE="10 min ago", GREP="usr1$|a b", NODES="app1,front2", LINES="5", NGINX="true")
    assert argv[2] == "playbooks/logs.yml"
    assert extra_vars(argv) == {
        "since": "10 min ago",
        "grep": "usr1$|a b",
        "nodes": "app1,front2",
        "lines": "5",
        "nginx": "true",
    }
    _, argv = make_op("deploy", SAID, RELEASE="0.1.0-hotfix1")
    assert (argv[2], extra_vars(argv)) == ("playbooks/deploy.yml", {"release": "0.1.0-hotfix1"})
    _, argv = make_op("rollback", SAID)
    assert (argv[2], extra_vars(argv)) == ("playbooks/rollback.yml", {})
    _, argv = make_op("maintenance-on", SAID, MESSAGE="Back at 14:00 UTC.", ALLOW="192.0.2.0/24", ARGS="--check")
    assert argv[2] == "playbooks/maintenance.yml"
    assert extra_vars(argv) == {"message": "Back at 14:00 UTC.", "allow": "192.0.2.0/24"}
    assert argv[argv.index("-e", argv.index("-e") + 1) :] == ["-e", "state=on", "--check"]
    _, argv = make_op("maintenance-off", SAID)
    assert argv[2:] == ["playbooks/maintenance.yml", "-e", "{}", "-e", "state=off"]
    for target in ("site", "restart"):
        _, argv = make_op(target, SAID)
        assert argv == ["-i", "inventory/lab", f"playbooks/{target}.yml", "-e", "{}"]
