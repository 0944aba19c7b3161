"""The release build's static files: content-hashed names and a manifest, in the app's wheel
(the app's static_url() reads it) and in the release's build directory (for the fronts)."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from test_release import app_commit, build

from conftest import ROOT

sys.path.insert(0, str(ROOT / "roles" / "app" / "files"))
import release

CSS = "body { color: #222; }\n"
SVG = "<svg/>\n"


def static_dir(tmp_path: Path, css: str = CSS) -> Path:
    static = tmp_path / "static"
    (static / "img").mkdir(parents=True)
    (static / "style.css").write_text(css)
    (static / "img" / "logo.svg").write_text(SVG)
    return static


def test_hashed_names_carry_the_first_12_hex_digits_of_the_contents_sha256(tmp_path: Path) -> None:
    out = tmp_path / "out"
    manifest = release.hash_static(static_dir(tmp_path), [out])
    digest = hashlib.sha256(CSS.encode()).hexdigest()[:12]
    assert manifest == {
        "img/logo.svg": f"img/logo.{hashlib.sha256(SVG.encode()).hexdigest()[:12]}.svg",
        "style.css": f"style.{digest}.css",
    }
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert (out / f"style.{digest}.css").read_text() == CSS
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted(
        ["manifest.json", *manifest.values()]
    )
    assert release.HASHED_NAME.search(manifest["style.css"])
    assert not release.HASHED_NAME.search("style.css")


def test_a_name_changes_with_the_content_and_only_then(tmp_path: Path) -> None:
    first = release.hash_static(static_dir(tmp_path / "a"), [tmp_path / "out-a"])
    same = release.hash_static(static_dir(tmp_path / "b"), [tmp_path / "out-b"])
    changed = release.hash_static(static_dir(tmp_path / "c", CSS + "a { color: red; }\n"), [tmp_path / "out-c"])
    assert first == same
    assert changed["style.css"] != first["style.css"]
    assert changed["img/logo.svg"] == first["img/logo.svg"]


def test_hashing_a_directory_again_gives_the_same_manifest(tmp_path: Path) -> None:
    static = static_dir(tmp_path)
    first = release.hash_static(static, [static])
    assert release.hash_static(static, [static]) == first, "hashed copies and the manifest are not hashed again"


def test_the_static_command_prints_the_manifest(tmp_path: Path) -> None:
    static = static_dir(tmp_path)
    cmd = [sys.executable, str(ROOT / "roles/app/files/release.py"), "static", str(static), str(tmp_path / "out")]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == json.loads((tmp_path / "out" / "manifest.json").read_text())


def test_the_build_ships_hashed_files_and_manifest_in_the_wheel_and_for_the_fronts(tmp_path: Path) -> None:
    source = app_commit(tmp_path)
    css = (source / "src/loginapp/static/style.css").read_bytes()
    outdir = tmp_path / "release"
    assert build(source, outdir)["changed"]
    hashed = f"style.{hashlib.sha256(css).hexdigest()[:12]}.css"
    manifest = json.loads((outdir / "static" / "manifest.json").read_text())
    assert manifest == {"style.css": hashed}
    assert (outdir / "static" / hashed).read_bytes() == css
    with tarfile.open(outdir / release.ARCHIVE) as tar:
        member = next(m for m in tar.getmembers() if m.name.startswith("wheels/loginapp-"))
        wheel_bytes = tar.extractfile(member).read()  # type: ignore[union-attr]
    with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as wheel:
        assert json.loads(wheel.read("loginapp/static/manifest.json")) == manifest
        assert wheel.read(f"loginapp/static/{hashed}") == css
        assert wheel.read("loginapp/static/style.css") == css, "the plain name ships too"
    # The source tree itself is left alone: hashing happens in the build's copy.
    assert not (source / "src/loginapp/static/manifest.json").exists()

    # A new stylesheet is a new name; the unchanged build directory is left as it was.
    (source / "src/loginapp/static/style.css").write_bytes(css + b"\n.new { color: red; }\n")
    assert build(source, outdir)["changed"] is False
    again = tmp_path / "release-2"
    build(source, again)
    renamed = json.loads((again / "static" / "manifest.json").read_text())["style.css"]
    assert renamed != hashed
    assert (again / "static" / renamed).read_bytes().endswith(b".new { color: red; }\n")


def test_dotfiles_are_never_published(tmp_path: Path) -> None:
    static = static_dir(tmp_path)
    (static / ".env").write_text("SECRET_KEY=x\n")
    (static / "img" / ".logo.svg.swp").write_text("draft")
    (static / ".git").mkdir()
    (static / ".git" / "config").write_text("[core]\n")
    out = tmp_path / "out"
    manifest = release.hash_static(static, [out])
    assert set(manifest) == {"style.css", "img/logo.svg"}
    assert not [p for p in out.rglob("*") if any(part.startswith(".") for part in p.relative_to(out).parts)]


def test_a_build_publishes_only_the_static_files_git_tracks(tmp_path: Path) -> None:
    source = app_commit(tmp_path)
    (source / "src/loginapp/static/draft.css").write_text(".draft { color: red; }\n")  # untracked
    (source / "src/loginapp/extra.py").write_text("X = 1\n")  # untracked code still builds (a dirty release)
    outdir = tmp_path / "release"
    build(source, outdir)
    assert set(json.loads((outdir / "static" / "manifest.json").read_text())) == {"style.css"}
    with tarfile.open(outdir / release.ARCHIVE) as tar:
        member = next(m for m in tar.getmembers() if m.name.startswith("wheels/loginapp-"))
        wheel_bytes = tar.extractfile(member).read()  # type: ignore[union-attr]
    with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as wheel:
        names = wheel.namelist()
    assert "loginapp/extra.py" in names
    assert not any("draft" in name for name in names)
