"""Helpers for the nginx scenario: run the converge playbook again with other inputs, reach the app node."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import testinfra

SCENARIO = Path(__file__).resolve().parent.parent
PROJECT = SCENARIO.parent.parent
sys.path.insert(0, str(SCENARIO.parent / "shared"))

from scenario_helpers import run_playbook  # noqa: E402


def converge(*extra_vars: str) -> subprocess.CompletedProcess[str]:
    """Run molecule/nginx/converge.yml against the scenario's nodes with -e overrides."""
    return run_playbook(SCENARIO / "converge.yml", *extra_vars)


@pytest.fixture(scope="module")
def run_converge():
    return converge


@pytest.fixture(scope="module")
def app_node():
    """The app node that runs the stub upstream."""
    return testinfra.get_host("ansible://nginx-app", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])
