"""Helpers for the app scenario: run the converge playbook again with other inputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCENARIO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SCENARIO.parent / "shared"))

from scenario_helpers import run_playbook  # noqa: E402


def converge(*extra_vars: str) -> subprocess.CompletedProcess[str]:
    """Run molecule/app/converge.yml against the scenario's node with -e overrides."""
    return run_playbook(SCENARIO / "converge.yml", *extra_vars)


@pytest.fixture(scope="module")
def run_converge():
    return converge
