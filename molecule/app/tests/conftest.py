"""Helpers for the app scenario: run the converge playbook again with other inputs."""

from __future__ import annotations

import sys
from pathlib import Path

SCENARIO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SCENARIO.parent / "shared"))

from scenario_helpers import converge_fixture  # noqa: E402

run_converge = converge_fixture(SCENARIO)
