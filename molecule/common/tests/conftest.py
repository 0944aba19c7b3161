"""Helpers for the common scenario: run role ssh again with other inputs, log in over real SSH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SCENARIO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SCENARIO.parent / "shared"))

from scenario_helpers import run_playbook  # noqa: E402

EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
KEY = EPHEMERAL / "ssh" / "id_ed25519"
# The user Ansible connects as (the one node description: molecule/shared/vars/node.yml).
USER = yaml.safe_load((SCENARIO.parent / "shared" / "vars" / "node.yml").read_text())["node_user"]


@pytest.fixture(scope="module")
def run_ssh_role():
    """`run_ssh_role(*extra_vars)`: role ssh alone on the scenario's node, as ansible-playbook runs it."""

    def run(*extra_vars: str) -> subprocess.CompletedProcess[str]:
        return run_playbook(SCENARIO / "ssh.yml", *extra_vars)

    return run


@pytest.fixture(scope="module")
def address(host) -> str:
    """The node's address on the scenario's network, which the controller reaches directly."""
    return host.check_output("hostname -I").split()[0]


@pytest.fixture(scope="module")
def ssh(address: str, tmp_path_factory: pytest.TempPathFactory):
    """`ssh(*options, command="true")`: a fresh SSH client run as the node's user, from the controller."""
    known_hosts = tmp_path_factory.mktemp("ssh") / "known_hosts"

    def run(*options: str, command: str = "true", key: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=accept-new"]
        cmd += ["-o", f"UserKnownHostsFile={known_hosts}", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
        if key:
            cmd += ["-i", str(KEY), "-o", "IdentitiesOnly=yes"]
        cmd += [*options, f"{USER}@{address}", command]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)

    return run
