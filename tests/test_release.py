"""The controller side of role app: release ids and the node platform tags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "roles" / "app" / "files"))
import release

PYPROJECT = '[project]\nname = "demo"\nversion = "1.2.3"\n'


def git(repo: Path, *args: str) -> str:
    cmd = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "first")
    return tmp_path


def test_a_clean_tree_is_named_version_and_short_sha(project: Path) -> None:
    sha = git(project, "rev-parse", "--short=7", "HEAD")
    assert release.release_id(project)["release_id"] == f"1.2.3-{sha}"


def test_uncommitted_changes_make_a_dirty_id_that_follows_the_content(project: Path) -> None:
    sha = git(project, "rev-parse", "--short=7", "HEAD")
    (project / "new.py").write_text("x = 1\n")
    first = release.release_id(project)["release_id"]
    assert first.startswith(f"1.2.3-{sha}-dirty-")
    assert release.release_id(project)["release_id"] == first
    (project / "new.py").write_text("x = 2\n")
    assert release.release_id(project)["release_id"] != first


def test_a_wheel_is_named_from_its_file_name_and_content(tmp_path: Path) -> None:
    wheel = tmp_path / "demo-2.0.0-py3-none-any.whl"
    wheel.write_bytes(b"not really a zip")
    rid = release.release_id(wheel)
    assert rid["name"] == "demo"
    assert rid["release_id"].startswith("2.0.0-")


def test_a_source_without_metadata_is_refused_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"no pyproject\.toml"):
        release.release_id(tmp_path)


def test_node_platform_tags_cover_every_older_manylinux() -> None:
    tags = release.manylinux_platforms("x86_64", "2.36")
    assert tags[0] == "manylinux_2_36_x86_64"
    assert "manylinux_2_17_x86_64" in tags
    assert "manylinux2014_x86_64" in tags
    assert "manylinux1_x86_64" in tags
    assert "manylinux_2_37_x86_64" not in tags
