"""Helpers for the nginx scenario: run the converge playbook again with other inputs, reach the app node,
the fake releases converge.yml made on the controller and sending one to the front."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra

SCENARIO = Path(__file__).resolve().parent.parent
PROJECT = SCENARIO.parent.parent
sys.path.insert(0, str(SCENARIO.parent / "shared"))

from scenario_helpers import converge_fixture, run_playbook  # noqa: E402

# Only the fronts' part of converge.yml: the stub upstream and the fake releases stay as they are.
run_converge = converge_fixture(SCENARIO, "fronts.yml")

STATIC_ROOT = "/var/www/flask-stack/static"  # role nginx's default nginx_static_root
INDEX = "/var/lib/flask-stack/static-releases.json"  # the releases the front keeps (role nginx's entry point static)
EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
RELEASES = [f"0.1.0-r{n}" for n in range(1, 8)]  # converge.yml sends the first one


@pytest.fixture(scope="module")
def app_node():
    """The app node that runs the stub upstream."""
    return testinfra.get_host("ansible://nginx-app", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


@dataclass(frozen=True)
class Release:
    """A fake release as converge.yml made it with release.py static."""

    name: str

    @property
    def static_dir(self) -> Path:
        return EPHEMERAL / "releases" / self.name / "static"

    @property
    def manifest(self) -> dict[str, str]:
        return json.loads((self.static_dir / "manifest.json").read_text())

    @property
    def css_name(self) -> str:
        return self.manifest["style.css"]

    @property
    def css(self) -> str:
        return (self.static_dir / self.css_name).read_text()


def send(release: str, static_dir: Path | str | None = None) -> subprocess.CompletedProcess[str]:
    """Run playbooks/plays/static.yml as rolling.yml does, with the run's two facts as extra vars."""
    directory = Release(release).static_dir if static_dir is None else static_dir
    return run_playbook(
        PROJECT / "playbooks" / "plays" / "static.yml",
        f"ops_release={release}",
        f"ops_static_dir={directory}",
    )
