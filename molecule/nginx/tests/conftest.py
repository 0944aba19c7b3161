"""Helpers for the nginx scenario: run the converge playbook again with other inputs, reach the app node."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import testinfra

SCENARIO = Path(__file__).resolve().parent.parent
PROJECT = SCENARIO.parent.parent


def converge(*extra_vars: str) -> subprocess.CompletedProcess[str]:
    """Run molecule/nginx/converge.yml against the scenario's nodes with -e overrides."""
    env = dict(
        os.environ,
        ANSIBLE_ROLES_PATH=str(PROJECT / "roles"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_CALLBACK_RESULT_FORMAT="json",
    )
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(SCENARIO / "converge.yml")]
    for var in extra_vars:
        cmd += ["-e", var]
    return subprocess.run(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def run_converge():
    return converge


@pytest.fixture(scope="module")
def app_node():
    """The app node that runs the stub upstream."""
    return testinfra.get_host("ansible://nginx-app", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])
