#!/usr/bin/env python3
"""Controller side of role `app`: name a release and build its wheels.

release.py id SOURCE
    print {"release_id", "version", "name"} as JSON. SOURCE is a project directory
    (pyproject.toml) or a wheel file. The id is <version>-<git short sha>, with
    -dirty-<content hash> when the source has uncommitted changes.
release.py build SOURCE OUTDIR --python-version 3.11 --arch x86_64 --glibc 2.36 [--extra REQ ...]
    put the app's wheel and every dependency's wheel (for the nodes' Python and
    platform) into OUTDIR/wheels and a pinned OUTDIR/requirements.txt; print
    {"changed": bool}. An OUTDIR that is already complete is left alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

ARCHIVE = "release.tar"
WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)-.*\.whl$")


def git(source: Path, *args: str) -> str | None:
    result = subprocess.run(["git", "-C", str(source), *args], capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def tree_hash(source: Path, files: list[str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        path = source / name
        digest.update(name.encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def project_metadata(source: Path) -> tuple[str, str]:
    if source.is_file():
        match = WHEEL_NAME.match(source.name)
        if not match:
            raise SystemExit(f"release: {source} is not a wheel file name (name-version-...whl)")
        return match["name"], match["version"]
    pyproject = source / "pyproject.toml"
    if not pyproject.is_file():
        raise SystemExit(f"release: {source} has no pyproject.toml and is not a wheel")
    project = tomllib.loads(pyproject.read_text()).get("project", {})
    if "name" not in project or "version" not in project:
        raise SystemExit(f"release: {pyproject} needs [project] name and a static version")
    return str(project["name"]), str(project["version"])


def release_id(source: Path) -> dict[str, str]:
    """The release id: <version>-<git short sha>[-dirty-<hash>], or <version>-<content hash>."""
    name, version = project_metadata(source)
    if source.is_file():
        return {"name": name, "version": version,
                "release_id": f"{version}-{hashlib.sha256(source.read_bytes()).hexdigest()[:7]}"}  # fmt: skip
    sha = git(source, "rev-parse", "--short=7", "HEAD")
    if sha is None:
        files = [str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()]
        return {"name": name, "version": version, "release_id": f"{version}-{tree_hash(source, files)[:7]}"}
    changed = git(source, "status", "--porcelain", "--untracked-files=all", "--", ".") or ""
    rid = f"{version}-{sha}"
    if changed:
        # Paths in porcelain output are relative to the repository root.
        top = Path(git(source, "rev-parse", "--show-toplevel") or source)
        files = [line[3:].split(" -> ")[-1] for line in changed.splitlines()]
        rid += f"-dirty-{tree_hash(top, files)[:6]}"
    return {"name": name, "version": version, "release_id": rid}


def manylinux_platforms(arch: str, glibc: str) -> list[str]:
    """Every manylinux tag a node with this glibc accepts, newest first."""
    major, minor = (int(part) for part in glibc.split(".")[:2])
    if major != 2:
        raise SystemExit(f"release: unexpected glibc version {glibc}")
    tags = [f"manylinux_2_{m}_{arch}" for m in range(minor, 4, -1)]
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    tags += [f"{name}_{arch}" for m, name in legacy.items() if minor >= m]
    return tags


def pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"release: {' '.join(cmd[2:5])} failed:\n{result.stderr.strip()}")


def build(source: Path, outdir: Path, python_version: str, platforms: list[str], extras: list[str]) -> bool:
    """Fill outdir with the app's wheels for the nodes. False when it was already complete."""
    if (outdir / ARCHIVE).exists():
        return False
    name, version = project_metadata(source)
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        stage = Path(tmp) / "wheels"
        stage.mkdir()
        if source.is_file():
            shutil.copy2(source, stage / source.name)
        else:
            pip("wheel", "--no-deps", "--wheel-dir", str(stage), str(source))
        app_wheel = next(stage.glob("*.whl"))
        pip("download", "--dest", str(stage), "--only-binary=:all:", "--implementation", "cp",
            "--python-version", python_version, *(f"--platform={p}" for p in platforms),
            str(app_wheel), *extras)  # fmt: skip
        (Path(tmp) / "requirements.txt").write_text("\n".join([f"{name}=={version}", *extras]) + "\n")
        if outdir.exists():
            shutil.rmtree(outdir)
        outdir.mkdir(parents=True)
        partial = outdir / f"{ARCHIVE}.partial"
        with tarfile.open(partial, "w") as archive:
            archive.add(stage, arcname="wheels")
            archive.add(Path(tmp) / "requirements.txt", arcname="requirements.txt")
        partial.rename(outdir / ARCHIVE)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Name and build an app release on the controller.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("id").add_argument("source", type=Path)
    b = sub.add_parser("build")
    b.add_argument("source", type=Path)
    b.add_argument("outdir", type=Path)
    b.add_argument("--python-version", required=True)
    b.add_argument("--arch", required=True, help="the nodes' machine, e.g. x86_64 or aarch64")
    b.add_argument("--glibc", required=True, help="the nodes' glibc version, e.g. 2.36")
    b.add_argument("--extra", action="append", default=[])
    args = parser.parse_args(argv)
    source = args.source.resolve()
    if not source.exists():
        raise SystemExit(f"release: source {source} does not exist")
    if args.command == "id":
        print(json.dumps(release_id(source)))
    else:
        platforms = manylinux_platforms(args.arch, args.glibc)
        changed = build(source, args.outdir.resolve(), args.python_version, platforms, args.extra)
        print(json.dumps({"changed": changed}))


if __name__ == "__main__":
    main()
