"""The controller side of role app: release ids, the node platform tags, and locked,
reproducible release builds (two builds of one commit ship byte-identical wheels)."""

from __future__ import annotations

import datetime
import hashlib
import io
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

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


# --- Locked, reproducible builds ------------------------------------------------------

APP = ROOT / "app"
SERVER_REQUIREMENTS: list[str] = yaml.safe_load((ROOT / "roles/app/defaults/main.yml").read_text())[
    "app_server_requirements"
]
NODES = {"python_version": "3.11", "arch": "x86_64", "glibc": "2.36"}  # Debian 12, as the lab's nodes


def app_commit(tmp_path: Path) -> Path:
    """The app's files as they are now, committed alone in a new repository."""
    repo = tmp_path / "repo"
    release.copy_source(APP, repo / "app")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "release")
    return repo / "app"


def build(source: Path, outdir: Path, extras: list[str] = SERVER_REQUIREMENTS, **nodes: str) -> dict[str, bool]:
    return release.build(source, outdir, extras=extras, **{**NODES, **nodes})


def archive(outdir: Path) -> dict[str, bytes]:
    with tarfile.open(outdir / release.ARCHIVE) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def lock_hashes(lock: Path) -> dict[str, set[str]]:
    """{normalised project name: its sha256s} from a pip requirements lock."""
    hashes: dict[str, set[str]] = {}
    name = ""
    for line in lock.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9._-]+)==", line):
            name = re.sub(r"[-_.]+", "-", match[1]).lower()
        if name:
            hashes.setdefault(name, set()).update(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
    return hashes


def test_the_committed_lock_is_for_the_apps_dependencies_the_server_requirements_and_the_nodes() -> None:
    inputs, target = release.read_header(APP / release.LOCK)
    assert inputs == release.runtime_inputs(APP, SERVER_REQUIREMENTS), "run scripts/lock-deps and commit app/*.lock"
    assert target == "3.11 x86_64-manylinux_2_36"
    assert release.read_header(APP / release.BUILD_LOCK)[0] == release.build_inputs(APP)


def test_two_builds_of_one_commit_ship_byte_identical_wheels_all_from_the_lock(tmp_path: Path) -> None:
    source = app_commit(tmp_path)
    assert build(source, tmp_path / "one") == {"changed": True, "locked": True}
    assert build(source, tmp_path / "two") == {"changed": True, "locked": True}
    one, two = archive(tmp_path / "one"), archive(tmp_path / "two")

    def wheels(files: dict[str, bytes]) -> list[tuple[str, str]]:
        return sorted((n, hashlib.sha256(b).hexdigest()) for n, b in files.items() if n.endswith(".whl"))

    assert wheels(one) == wheels(two)
    assert (tmp_path / "one" / release.ARCHIVE).read_bytes() == (tmp_path / "two" / release.ARCHIVE).read_bytes()
    locked = lock_hashes(source / release.LOCK)
    shipped = {re.sub(r"[-_.]+", "-", name.split("/")[1].split("-")[0]).lower(): digest for name, digest in wheels(one)}
    app_digest = shipped.pop("loginapp")
    assert set(shipped) == set(locked), "every locked package is shipped, nothing else but the app"
    assert all(digest in locked[name] for name, digest in shipped.items())
    assert f"loginapp==0.1.0 --hash=sha256:{app_digest}" in one["requirements.txt"].decode()
    # The build backend honoured SOURCE_DATE_EPOCH: every entry of the app's wheel carries the commit time ...
    stamp = datetime.datetime.fromtimestamp(int(git(source, "log", "-1", "--format=%ct")), tz=datetime.UTC)
    app_wheel = next(b for n, b in one.items() if n.startswith("wheels/loginapp-"))
    with zipfile.ZipFile(io.BytesIO(app_wheel)) as wheel:
        # (a zip stores even seconds)
        assert {i.date_time for i in wheel.infolist()} == {(*stamp.timetuple()[:5], stamp.second - stamp.second % 2)}
        assert "loginapp/templates/login.html" in wheel.namelist()
        # ... and it is the locked one.
        backend = re.search(r"^setuptools==(\S+)", (source / release.BUILD_LOCK).read_text(), re.M)
        assert backend
        assert f"Generator: setuptools ({backend[1]})" in wheel.read("loginapp-0.1.0.dist-info/WHEEL").decode()


@pytest.mark.parametrize(
    ("change", "extras", "named"),
    [
        ("requests==2.32.3", SERVER_REQUIREMENTS, "+requests==2.32.3"),
        ("", ["gunicorn==23.0.0"], "+gunicorn==23.0.0"),
    ],
    ids=["a new app dependency", "another server requirement"],
)
def test_a_stale_lock_is_refused_with_the_command_that_regenerates_it(
    tmp_path: Path, change: str, extras: list[str], named: str
) -> None:
    source = app_commit(tmp_path)
    if change:
        pyproject = source / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace("dependencies = [", f'dependencies = [\n    "{change}",'))
    with pytest.raises(SystemExit, match=r"is stale") as refused:
        build(source, tmp_path / "out", extras=extras)
    message = str(refused.value)
    assert named in message
    assert f"scripts/lock-deps --source {source}" in message
    assert not (tmp_path / "out").exists()


def test_a_lock_for_other_nodes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"CPython 3\.11 on x86_64 .* the nodes run CPython 3\.12 on aarch64"):
        build(app_commit(tmp_path), tmp_path / "out", python_version="3.12", arch="aarch64", glibc="2.39")


def test_a_dependency_missing_from_the_lock_is_refused_by_pip(tmp_path: Path) -> None:
    source = app_commit(tmp_path)
    lock = source / release.LOCK
    # Drop blinker (Flask needs it) but keep the header: only pip's hash-checking mode can notice.
    lock.write_text(re.sub(r"(?ms)^blinker==.*?(?=^[a-z])", "", lock.read_text()))
    assert "blinker" not in lock.read_text()
    with pytest.raises(SystemExit, match=r"(?s)blinker.*regenerate the lock with `scripts/lock-deps"):
        build(source, tmp_path / "out")


def test_the_wheel_is_built_from_the_releases_files_only(tmp_path: Path) -> None:
    source = app_commit(tmp_path)
    (source / "build/lib/loginapp").mkdir(parents=True)
    (source / "build/lib/loginapp/stale.py").write_text("raise SystemExit\n")
    (source / "src/loginapp.egg-info").mkdir()
    (source / "src/loginapp/new.py").write_text("x = 1\n")
    (source / "src/loginapp/new.py").chmod(0o600)
    copy = tmp_path / "copy"
    release.copy_source(source, copy)
    files = {str(p.relative_to(copy)) for p in copy.rglob("*") if p.is_file()}
    assert "src/loginapp/new.py" in files, "an uncommitted file is part of the (dirty) release"
    assert not any(f.startswith(("build/", "src/loginapp.egg-info")) for f in files)
    assert (copy / "src/loginapp/new.py").stat().st_mode & 0o777 == 0o644
    shutil.rmtree(copy)


def test_lock_deps_writes_locks_that_the_build_accepts(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=77"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "demo"\nversion = "1.0.0"\ndependencies = ["blinker==1.9.0"]\n'
    )
    cmd = [str(ROOT / "scripts/lock-deps"), "--source", str(tmp_path), "itsdangerous==2.2.0"]
    first = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    lock = tmp_path / release.LOCK
    inputs, target = release.read_header(lock)
    assert (
        inputs == release.runtime_inputs(tmp_path, ["itsdangerous==2.2.0"]) == ["blinker==1.9.0", "itsdangerous==2.2.0"]
    )
    assert target == "3.11 x86_64-manylinux_2_36"
    # PyPI's sha256 of blinker-1.9.0-py3-none-any.whl (a published file never changes).
    assert "b4ce2265a7abece45e7cc896e98dbebe6cead56bcf805a3d23136d145f5445bf" in lock_hashes(lock)["blinker"]
    assert release.read_header(tmp_path / release.BUILD_LOCK)[0] == ["setuptools>=77"]
    assert re.search(r"^setuptools==", (tmp_path / release.BUILD_LOCK).read_text(), re.M)
    again = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert '"changed": []' in again.stdout, "a second run with the same inputs rewrites nothing"
