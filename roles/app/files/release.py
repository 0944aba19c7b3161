#!/usr/bin/env python3
"""Controller side of role `app`: name a release and build its wheels.

release.py id SOURCE
    print {"release_id", "version", "name"} as JSON. SOURCE is a project directory
    (pyproject.toml) or a wheel file. The id is <version>-<short sha of the last commit
    that changed SOURCE>, with
    -dirty-<content hash> when the source has uncommitted changes.
release.py build SOURCE OUTDIR --python-version 3.11 --arch x86_64 --glibc 2.36 [--extra REQ ...]
    put the app's wheel and every dependency's wheel (for the nodes' Python and
    platform) into OUTDIR/release.tar (wheels/ and requirements.txt); print
    {"changed": bool, "locked": bool}. An OUTDIR that is already complete is left alone.
    The package's static files (<package>/static/) get content-hashed copies
    (style.css -> style.<sha256[:12]>.css) and a manifest, static/manifest.json
    ({"style.css": "style.<hash>.css"}), inside the app's wheel (the app's static_url()
    reads it) and in OUTDIR/static/ (the hashed files and manifest.json, for the fronts).
release.py static STATICDIR OUTDIR
    write the hashed copies of STATICDIR's files and manifest.json into OUTDIR; print the manifest.
    With SOURCE/requirements.lock (and SOURCE/requirements-build.lock) the build is locked:
    every wheel is checked against the lock's sha256, requirements.txt carries the hashes
    so the nodes check them too, and a lock made for other inputs is refused. The app's
    wheel is built from a copy of its files with SOURCE_DATE_EPOCH set to its last commit,
    so two builds of one commit give byte-identical wheels and archive.
release.py lock SOURCE --python-version 3.11 --platform x86_64-manylinux_2_36 [REQ ...]
    write SOURCE/requirements.lock (the project's dependencies and the server
    requirements REQ, resolved for the nodes) and SOURCE/requirements-build.lock (its
    build backend) with uv pip compile --generate-hashes. scripts/lock-deps calls it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ARCHIVE = "release.tar"
LOCK = "requirements.lock"
BUILD_LOCK = "requirements-build.lock"
LOCK_SCRIPT = "scripts/lock-deps"
ZIP_EPOCH = 315532800  # 1980-01-01, the earliest time a zip file holds
IGNORED = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}
WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)-.*\.whl$")
STATIC_DIR = "static"
MANIFEST = "manifest.json"
HASH_LENGTH = 12
# A name the build made: <stem>.<12 hex digits>[.<suffix>] (role nginx's /static/ location
# gives these the immutable cache header).
HASHED_NAME = re.compile(rf"\.[0-9a-f]{{{HASH_LENGTH}}}(\.[A-Za-z0-9]+)?$")


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
    """The release id: <version>-<short sha of the source's last commit>[-dirty-<hash>], or <version>-<content hash>."""
    name, version = project_metadata(source)
    if source.is_file():
        return {"name": name, "version": version,
                "release_id": f"{version}-{hashlib.sha256(source.read_bytes()).hexdigest()[:7]}"}  # fmt: skip
    # The last commit that changed the app's source, not HEAD: a commit elsewhere in the
    # repository (a role, a test) makes no new release, so nothing restarts for it.
    sha = git(source, "log", "-1", "--format=%h", "--abbrev=7", "--", ".") or None
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


def pip(*args: str, env: dict[str, str] | None = None, hint: str = "") -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise SystemExit(f"release: {' '.join(cmd[2:5])} failed:\n{result.stderr.strip()}{hint}")


# --- The lock files --------------------------------------------------------------


def pyproject(source: Path) -> dict[str, Any]:
    return tomllib.loads((source / "pyproject.toml").read_text())


def runtime_inputs(source: Path, extras: list[str]) -> list[str]:
    """What the runtime lock resolves: the project's dependencies and the server requirements."""
    deps = [str(d) for d in pyproject(source).get("project", {}).get("dependencies", [])]
    return sorted({" ".join(req.split()) for req in [*deps, *extras]})


def build_inputs(source: Path) -> list[str]:
    """What the build lock resolves: the build backend the project names (PEP 517/518)."""
    requires = pyproject(source).get("build-system", {}).get("requires", ["setuptools>=40.8.0"])
    return sorted({" ".join(str(req).split()) for req in requires})


def lock_command(source: Path, extras: list[str], python_version: str, platform: str) -> str:
    """The command that regenerates the lock files for these inputs."""
    return shlex.join([LOCK_SCRIPT, "--source", str(source), "--python-version", python_version,
                       "--platform", platform, *extras])  # fmt: skip


def read_header(lock: Path) -> tuple[list[str], str]:
    """The inputs and the target a lock file was made for, from its `# lock-...:` lines."""
    inputs: list[str] = []
    target = ""
    for line in lock.read_text().splitlines():
        if line.startswith("# lock-input: "):
            inputs.append(line.removeprefix("# lock-input: ").strip())
        elif line.startswith("# lock-target: "):
            target = line.removeprefix("# lock-target: ").strip()
    return inputs, target


def parse_target(target: str) -> tuple[str, str, tuple[int, int]]:
    """'3.11 x86_64-manylinux_2_36' -> ('3.11', 'x86_64', (2, 36))."""
    match = re.fullmatch(r"(?P<py>\d+\.\d+) (?P<arch>[a-z0-9_]+)-manylinux_(?P<major>\d+)_(?P<minor>\d+)", target)
    if not match:
        raise SystemExit(f"release: lock target {target!r} is not like '3.11 x86_64-manylinux_2_36'")
    return match["py"], match["arch"], (int(match["major"]), int(match["minor"]))


def check_lock(lock: Path, wanted: list[str], regenerate: str) -> str:
    """Refuse a lock made for other inputs than the project asks for now; return its target."""
    recorded, target = read_header(lock)
    if recorded != wanted:
        changes = [
            *(f"+{req}" for req in wanted if req not in recorded),
            *(f"-{req}" for req in recorded if req not in wanted),
        ]
        raise SystemExit(
            f"release: {lock} is stale: the build asks for other requirements than it was made for "
            f"({', '.join(changes)}). Regenerate it with `{regenerate}` and commit it."
        )
    return target


def uv() -> str:
    found = shutil.which("uv", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if found is None:
        raise SystemExit("release: uv is missing: run `make venv` (requirements.txt pins it)")
    return found


def compile_lock(source: Path, requirements: list[str], resolve_args: list[str], header: list[str]) -> str:
    """A hash lock of these requirements, resolved by `uv pip compile --generate-hashes`."""
    cmd = [uv(), "pip", "compile", "--quiet", "--no-config", "--no-header", "--generate-hashes",
           "--annotation-style", "line", *resolve_args, "-"]  # fmt: skip
    result = subprocess.run(cmd, input="\n".join(requirements) + "\n", capture_output=True, text=True,
                            cwd=source, check=False)  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"release: uv pip compile failed:\n{result.stderr.strip()}")
    header = [
        *header,
        f"# Written by `{LOCK_SCRIPT}` (uv pip compile --generate-hashes); do not edit by hand. The release",
        "# build refuses this file when the lock-input lines differ from what the build asks for.",
        *(f"# lock-input: {req}" for req in requirements),
    ]
    return "\n".join([*header, *result.stdout.splitlines()]) + "\n"


def lock(source: Path, extras: list[str], python_version: str, platform: str) -> list[Path]:
    """Write the runtime and the build lock files of a project directory; return the changed ones."""
    parse_target(f"{python_version} {platform}")
    name, _ = project_metadata(source)
    runtime = runtime_inputs(source, extras)
    build = build_inputs(source)
    files = {
        source / LOCK: compile_lock(
            source,
            runtime,
            ["--python-version", python_version, "--python-platform", platform],
            [
                f"# Hash lock of {name}'s runtime dependencies and the server requirements, shipped to the nodes.",
                f"# lock-target: {python_version} {platform}",
            ],
        ),
        source / BUILD_LOCK: compile_lock(
            source,
            build,
            ["--universal", "--python-version", python_version],
            [f"# Hash lock of {name}'s build backend, installed on the controller to build its wheel."],
        ),
    }
    changed = []
    for path, text in files.items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


# --- Static files: content-hashed names and their manifest -----------------------


def hashed_name(logical: str, content: bytes) -> str:
    """style.css -> style.<sha256[:12]>.css (img/a.png -> img/a.<hash>.png; LICENSE -> LICENSE.<hash>)."""
    path = Path(logical)
    digest = hashlib.sha256(content).hexdigest()[:HASH_LENGTH]
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}" if path.suffix else f"{path.name}.{digest}"))


def hash_static(static: Path, outdirs: list[Path]) -> dict[str, str]:
    """Write a hashed copy of every file under static (dotfiles and dot directories left out) and
    manifest.json into each of outdirs.

    Returns the manifest {logical name: hashed name}, logical names relative to static
    with '/' between directories. Files that already carry a hash, and the manifest
    itself, are not hashed again, so hashing a directory twice gives the same manifest.
    """
    manifest: dict[str, str] = {}
    if not static.is_dir():
        return manifest
    for path in sorted(p for p in static.rglob("*") if p.is_file()):
        logical = path.relative_to(static).as_posix()
        if logical == MANIFEST or HASHED_NAME.search(path.name):
            continue
        if any(part.startswith(".") for part in path.relative_to(static).parts):
            continue  # a dotfile (.env, an editor's .swp) is never published
        manifest[logical] = hashed_name(logical, path.read_bytes())
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    for outdir in outdirs:
        for logical, hashed in manifest.items():
            target = outdir / hashed
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(static / logical, target)
            target.chmod(0o644)
        if manifest:
            (outdir / MANIFEST).write_text(text)
            (outdir / MANIFEST).chmod(0o644)
    return manifest


def package_static(tree: Path, name: str) -> Path:
    """The static directory of the project's package: src/<package>/static or <package>/static."""
    package = re.sub(r"[-.]+", "_", name).lower()
    for candidate in (tree / "src" / package / STATIC_DIR, tree / package / STATIC_DIR):
        if candidate.is_dir():
            return candidate
    return tree / "src" / package / STATIC_DIR


# --- The build -------------------------------------------------------------------


def source_epoch(source: Path) -> int:
    """SOURCE_DATE_EPOCH for the build: the time of the last commit that changed the source, else a fixed date."""
    stamp = git(source, "log", "-1", "--format=%ct", "--", ".")
    return int(stamp) if stamp else ZIP_EPOCH


def copy_source(source: Path, dest: Path) -> None:
    """Copy the files a release is made of (git's view: tracked and untracked, not ignored; under a static
    directory tracked only, since the fronts publish those), modes normalised.

    Building from a copy keeps stale build/ and *.egg-info directories of the work tree out of the wheel.
    """
    listed = git(source, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ".")
    tracked = git(source, "ls-files", "-z", "--cached", "--", ".")
    if listed is not None and tracked is not None:
        names = [name for name in listed.split("\0") if name]
        untracked = set(names) - set(tracked.split("\0"))
    else:
        names = [str(p.relative_to(source)) for p in source.rglob("*")]
        untracked = set()
    for name in sorted(names):
        path = source / name
        parts = Path(name).parts
        if IGNORED.intersection(parts) or any(part.endswith(".egg-info") for part in parts):
            continue  # build output, even where no .gitignore says so
        if name in untracked and STATIC_DIR in parts[:-1]:
            continue  # the fronts publish static files: only what git tracks (no draft, no stray file)
        if not path.is_file():  # a directory, or deleted but still tracked
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        target.chmod(0o755 if path.stat().st_mode & 0o111 else 0o644)
    for directory in [dest, *(p for p in dest.rglob("*") if p.is_dir())]:
        directory.chmod(0o755)


# Runs in a fresh `python -S` whose path holds only the locked backend (PEP 517 hooks).
HOOKS = """
import importlib, json, sys
spec, outdir = sys.argv[1:3]  # the hooks may change sys.argv
module, _, obj = spec.partition(":")
backend = importlib.import_module(module)
for part in filter(None, obj.split(".")):
    backend = getattr(backend, part)
hook = getattr(backend, "get_requires_for_build_wheel", None)
extra = hook() if hook else []
missing = []
for req in extra:
    name = req.split(";")[0].split("[")[0]
    for sep in "<>=!~ ":
        name = name.split(sep)[0]
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        missing.append(req)
if missing:
    sys.exit("the build backend also asks for " + ", ".join(missing) + ": add them to [build-system] requires")
print(json.dumps(backend.build_wheel(outdir)))
"""


def unpack_wheels(wheels: Path, site: Path) -> None:
    """Install pure wheels by unpacking them into one directory (enough for a build backend on sys.path)."""
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)
    for data in site.glob("*.data"):
        for scheme in ("purelib", "platlib"):
            if (data / scheme).is_dir():
                shutil.copytree(data / scheme, site, dirs_exist_ok=True)


def build_app_wheel(source: Path, stage: Path, work: Path, env: dict[str, str], regenerate: str) -> Path:
    """Build the project's wheel into stage from a copy of its files, with the locked backend when it has one.

    The copy's static files get their hashed names and manifest first (so the wheel ships them), and the
    same files go to work/static for the fronts.
    With a build lock the PEP 517 hooks run in `python -S` over the hash-checked backend wheels and nothing
    else: no index is asked, so a newer backend cannot slip in, and no environment is installed (fast).
    """
    tree = work / "src"
    copy_source(source, tree)
    static = package_static(tree, project_metadata(source)[0])
    hash_static(static, [static, work / STATIC_DIR])
    built = work / "app"
    built.mkdir()
    build_lock = source / BUILD_LOCK
    if not build_lock.is_file():
        pip("wheel", "--no-deps", "--wheel-dir", str(built), str(tree), env=env)
        wheel = next(built.glob("*.whl"))
    else:
        check_lock(build_lock, build_inputs(source), regenerate)
        system = pyproject(source).get("build-system", {})
        hint = f"\nIf the build backend changed, regenerate the locks with `{regenerate}`."
        pip("download", "--require-hashes", "--only-binary=:all:", "--dest", str(work / "backend"),
            "-r", str(build_lock), hint=hint)  # fmt: skip
        site = work / "backend-site"
        unpack_wheels(work / "backend", site)
        path = [str(tree / d) for d in system.get("backend-path", [])] + [str(site)]
        cmd = [sys.executable, "-S", "-c", HOOKS, system.get("build-backend", "setuptools.build_meta:__legacy__"),
               str(built)]  # fmt: skip
        result = subprocess.run(cmd, cwd=tree, env={**env, "PYTHONPATH": os.pathsep.join(path)},
                                capture_output=True, text=True, check=False)  # fmt: skip
        if result.returncode != 0:
            raise SystemExit(f"release: building the wheel of {source} failed:\n{result.stderr.strip()[-3000:]}")
        wheel = built / json.loads(result.stdout.strip().splitlines()[-1])
    return Path(shutil.move(wheel, stage / wheel.name))


def normalised(epoch: int) -> Callable[[tarfile.TarInfo], tarfile.TarInfo]:
    def member(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime = epoch
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = 0o755 if info.isdir() or info.mode & 0o111 else 0o644
        return info

    return member


def build(source: Path, outdir: Path, python_version: str, arch: str, glibc: str, extras: list[str]) -> dict[str, bool]:
    """Fill outdir with the app's wheels for the nodes. changed is false when it was already complete."""
    locked = source.is_dir() and (source / LOCK).is_file()
    if (outdir / ARCHIVE).exists():
        return {"changed": False, "locked": locked}
    name, version = project_metadata(source)
    platforms = manylinux_platforms(arch, glibc)
    target_args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", python_version,
                   *(f"--platform={p}" for p in platforms)]  # fmt: skip
    epoch = source_epoch(source if source.is_dir() else source.parent)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    node_glibc = tuple(int(part) for part in glibc.split(".")[:2])
    regenerate = lock_command(source, extras, python_version, f"{arch}-manylinux_{node_glibc[0]}_{node_glibc[1]}")
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        work = Path(tmp)
        stage = work / "wheels"
        stage.mkdir()
        requirements = work / "requirements.txt"
        if locked:
            lock_file = source / LOCK
            target = read_header(lock_file)[1]
            lock_py, lock_arch, lock_glibc = parse_target(target)
            if (lock_py, lock_arch) != (python_version, arch) or lock_glibc > node_glibc:
                raise SystemExit(
                    f"release: {lock_file} is for CPython {lock_py} on {lock_arch} (glibc >= "
                    f"{'.'.join(map(str, lock_glibc))}) but the nodes run CPython {python_version} on {arch} "
                    f"(glibc {glibc}). Regenerate it with `{regenerate}` and commit it."
                )
            check_lock(lock_file, runtime_inputs(source, extras), regenerate)
            hint = f"\nIf the app's dependencies changed, regenerate the lock with `{regenerate}`."
            pip("download", "--require-hashes", *target_args, "--dest", str(stage), "-r", str(lock_file), hint=hint)
            app_wheel = build_app_wheel(source, stage, work, env, regenerate)
            digest = hashlib.sha256(app_wheel.read_bytes()).hexdigest()
            requirements.write_text(f"{name}=={version} --hash=sha256:{digest}\n{lock_file.read_text()}")
            # What the nodes will run, offline and hash-checked: every dependency of the app must be locked.
            pip("download", "--no-index", "--find-links", str(stage), "--require-hashes", *target_args,
                "--dest", str(stage), "-r", str(requirements), hint=hint)  # fmt: skip
        else:
            if source.is_file():
                app_wheel = Path(shutil.copy2(source, stage / source.name))
            else:
                app_wheel = build_app_wheel(source, stage, work, env, regenerate)
            pip("download", "--dest", str(stage), *target_args, str(app_wheel), *extras)
            requirements.write_text("\n".join([f"{name}=={version}", *extras]) + "\n")
        if outdir.exists():
            shutil.rmtree(outdir)
        outdir.mkdir(parents=True)
        if (work / STATIC_DIR).is_dir():
            shutil.copytree(work / STATIC_DIR, outdir / STATIC_DIR)
        partial = outdir / f"{ARCHIVE}.partial"
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
            archive.add(stage, arcname="wheels", filter=normalised(epoch))
            archive.add(requirements, arcname="requirements.txt", filter=normalised(epoch))
        partial.rename(outdir / ARCHIVE)
    return {"changed": True, "locked": locked}


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
    st = sub.add_parser("static")
    st.add_argument("source", type=Path, help="a directory of static files")
    st.add_argument("outdir", type=Path)
    lk = sub.add_parser("lock")
    lk.add_argument("source", type=Path)
    lk.add_argument("--python-version", required=True, help="the nodes' Python, e.g. 3.11")
    lk.add_argument("--platform", required=True, help="the nodes' platform for uv, e.g. x86_64-manylinux_2_36")
    lk.add_argument("extras", nargs="*", metavar="REQ", help="server requirements locked next to the app's")
    args = parser.parse_args(argv)
    source = args.source.resolve()
    if not source.exists():
        raise SystemExit(f"release: source {source} does not exist")
    if args.command == "id":
        print(json.dumps(release_id(source)))
    elif args.command == "static":
        print(json.dumps(hash_static(source, [args.outdir.resolve()])))
    elif args.command == "lock":
        if not (source / "pyproject.toml").is_file():
            raise SystemExit(f"release: {source} has no pyproject.toml to lock")
        changed = lock(source, args.extras, args.python_version, args.platform)
        print(json.dumps({"changed": [str(path) for path in changed]}))
    else:
        result = build(source, args.outdir.resolve(), args.python_version, args.arch, args.glibc, args.extra)
        print(json.dumps(result))


if __name__ == "__main__":
    main()
