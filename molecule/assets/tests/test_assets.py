"""What a browser gets at /static/ from a front while releases come and go: every page's
content-hashed stylesheet of the last five releases, immutable; the plain name with the
newest release's content, cached briefly; nothing else. Run in order: each test sends
releases to the front with playbooks/plays/static.yml, as a deploy or a rollback does."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from conftest import INDEX, PROJECT, RELEASES, STATIC_ROOT, Release, get, send

IMMUTABLE = "public, max-age=31536000, immutable"
PLAIN = "public, max-age=300"
R = [Release(name) for name in RELEASES]


def recap_changed(output: str) -> int:
    match = re.search(r"assets-front\s+: ok=\d+\s+changed=(\d+)", output)
    assert match, output[-3000:]
    return int(match[1])


def kept(front) -> list[str]:
    return [entry["release"] for entry in json.loads(front.file(INDEX).content_string)]


def files_on_front(front) -> set[str]:
    out = front.check_output(f"cd {STATIC_ROOT} && find . -type f -printf '%P\\n'")
    return set(out.split())


def assert_serves(front, release: Release) -> None:
    answer = get(front, f"/static/{release.css_name}")
    assert answer.status == 200, (release.name, answer.status)
    assert answer.headers["cache-control"] == IMMUTABLE
    assert answer.headers["content-type"] == "text/css"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.body == release.css


def assert_plain_is(front, release: Release) -> None:
    answer = get(front, "/static/style.css")
    assert answer.status == 200
    assert answer.headers["cache-control"] == PLAIN
    assert "immutable" not in answer.headers["cache-control"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.body == release.css, f"/static/style.css should have {release.name}'s content"


def test_the_converged_front_serves_the_first_release_under_both_names(front) -> None:
    assert_serves(front, R[0])
    assert_plain_is(front, R[0])
    # Role nginx's own copy of the app's files (nginx_static_source) did not come back over it.
    assert get(front, "/static/style.css").body != (PROJECT / "app/src/loginapp/static/style.css").read_text()
    script = get(front, f"/static/{R[0].manifest['app.js']}")
    assert (script.status, script.headers["cache-control"]) == (200, IMMUTABLE)
    assert kept(front) == [R[0].name]


def test_a_hashed_name_the_front_does_not_have_is_a_404_with_the_headers(front) -> None:
    answer = get(front, "/static/style.0123456789ab.css")
    assert answer.status == 404
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"


def test_each_release_adds_its_files_and_the_front_keeps_the_last_five(front) -> None:
    front.check_output(f"touch {STATIC_ROOT}/stray.txt")
    for number in range(1, 6):  # r2 .. r6
        result = send(R[number].name)
        assert result.returncode == 0, result.stdout[-3000:]
        assert f"release {R[number].name}'s 2 static file(s) from the controller" in result.stdout
        assert_plain_is(front, R[number])
        for earlier in R[max(0, number - 4) : number + 1]:
            assert_serves(front, earlier)
    assert kept(front) == [r.name for r in R[1:6]]
    assert get(front, f"/static/{R[0].css_name}").status == 404, "the sixth release back is gone"
    shared = R[0].manifest["app.js"]
    assert {r.manifest["app.js"] for r in R} == {shared}
    assert get(front, f"/static/{shared}").status == 200, "a file a kept release names stays"
    expected = {"style.css", "app.js", shared} | {r.css_name for r in R[1:6]}
    assert files_on_front(front) == expected, "nothing else: the stray file and r1's stylesheet were removed"


def test_the_same_release_again_changes_nothing(front) -> None:
    result = send(R[5].name)
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap_changed(result.stdout) == 0
    assert kept(front)[-1] == R[5].name


def test_a_rollback_to_a_kept_release_needs_nothing_from_the_controller(front) -> None:
    result = send(R[3].name, "/nonexistent/static")
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"release {R[3].name}'s 2 static file(s) kept from before" in result.stdout
    assert_plain_is(front, R[3])
    for release in R[1:6]:
        assert_serves(front, release)
    assert kept(front) == [R[1].name, R[2].name, R[4].name, R[5].name, R[3].name], "sent again: the newest"


def test_a_release_in_neither_place_changes_nothing_and_says_so(front) -> None:
    before = files_on_front(front)
    result = send(R[0].name, "")
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"no static files of release {R[0].name} on the controller" in result.stdout
    assert recap_changed(result.stdout) == 0
    assert files_on_front(front) == before
    assert_plain_is(front, R[3])


def test_a_pruned_release_comes_back_from_the_build_directory(front) -> None:
    result = send(R[0].name)
    assert result.returncode == 0, result.stdout[-3000:]
    assert_serves(front, R[0])
    assert_plain_is(front, R[0])
    assert kept(front) == [R[2].name, R[4].name, R[5].name, R[3].name, R[0].name]
    assert get(front, f"/static/{R[1].css_name}").status == 404, "now the oldest kept one went"


def test_a_manifest_that_names_a_path_outside_the_static_root_is_refused(front, tmp_path) -> None:
    bad = tmp_path / "static"
    bad.mkdir()
    (bad / "manifest.json").write_text(json.dumps({"style.css": "../../../etc/passwd.0123456789ab.css"}))
    before = files_on_front(front), kept(front)
    result = send("0.1.0-bad", bad)
    assert result.returncode != 0
    assert "is not a map of relative file names to content-hashed names" in result.stdout
    assert "stopped before any app node changed" in result.stdout
    assert (files_on_front(front), kept(front)) == before


def test_gixy_finds_no_problem_in_the_static_locations(front) -> None:
    """The nested location of the hashed names keeps every header of its parent but Cache-Control."""
    dump = front.check_output("nginx -T 2>/dev/null")
    assert 'location ~ "\\.[0-9a-f]{12}(\\.[A-Za-z0-9]+)?$"' in dump
    gixy = Path(sys.executable).parent / "gixy"
    result = subprocess.run([str(gixy), "-"], input=dump, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and "No issues found." in result.stdout, result.stdout + result.stderr
