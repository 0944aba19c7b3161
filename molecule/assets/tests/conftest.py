"""Helpers for the assets scenario: the front, curl on it with the CA file, the fake releases."""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra

SCENARIO = Path(__file__).resolve().parent.parent
PROJECT = SCENARIO.parent.parent
sys.path.insert(0, str(SCENARIO.parent / "shared"))

from scenario_helpers import run_playbook  # noqa: E402

SITE = "flask-stack.test"
CA_ON_NODE = "/usr/local/share/ca-certificates/flask-stack-ca.crt"
STATIC_ROOT = "/var/www/flask-stack/static"
INDEX = "/var/lib/flask-stack/static-releases.json"
EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
RELEASES = [f"0.1.0-r{n}" for n in range(1, 8)]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str


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


@pytest.fixture(scope="module")
def front():
    return testinfra.get_host("ansible://assets-front", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def get(front, path: str) -> Response:
    """GET https://<site><path> on the front, verified with the project CA."""
    cmd = ["curl", "-sS", "-i", "--max-time", "5", "--cacert", CA_ON_NODE,
           "--resolve", f"{SITE}:443:127.0.0.1", f"https://{SITE}{path}"]  # fmt: skip
    result = front.run(shlex.join(cmd))
    assert result.rc == 0, result.stderr
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    lines = head.splitlines()
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return Response(int(lines[0].split()[1]), headers, body)


def send(release: str, static_dir: Path | str | None = None):
    """Run playbooks/plays/static.yml as rolling.yml does, with the run's two facts as extra vars."""
    directory = Release(release).static_dir if static_dir is None else static_dir
    return run_playbook(
        PROJECT / "playbooks" / "plays" / "static.yml",
        f"ops_release={release}",
        f"ops_static_dir={directory}",
    )
