"""Helpers for the nginx scenario: run the converge playbook again with other inputs, reach the app node."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import testinfra

SCENARIO = Path(__file__).resolve().parent.parent
PROJECT = SCENARIO.parent.parent
sys.path.insert(0, str(SCENARIO.parent / "shared"))

from scenario_helpers import converge_fixture  # noqa: E402

run_converge = converge_fixture(SCENARIO)


@pytest.fixture(scope="module")
def app_node():
    """The app node that runs the stub upstream."""
    return testinfra.get_host("ansible://nginx-app", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])
