"""What a browser gets at /static/ from the front while releases come and go: every page's
content-hashed stylesheet of the last five releases, immutable; the plain name with the
newest release's content, cached briefly; nothing else. Run in order: each test sends
releases to the front with playbooks/plays/static.yml, as a deploy or a rollback does.
This file sorts after the scenario's others, which expect the front as converge.yml left it
(the first release only: their converges send it again, which changes nothing then)."""

from __future__ import annotations

import json
import re

from test_nginx import Response, https

from conftest import INDEX, PROJECT, RELEASES, STATIC_ROOT, Release, send

testinfra_hosts = ["ansible://fronts"]

IMMUTABLE = "public, max-age=31536000, immutable"
PLAIN = "public, max-age=300"
R = [Release(name) for name in RELEASES]


def get(host, path: str) -> Response:
    """GET https://<site><path> on the front, verified with the project CA; curl itself must succeed."""
    answer = https(host, path)
    assert answer.rc == 0, answer.error
    return answer


def recap_changed(output: str) -> int:
    match = re.search(r"nginx-front\s+: ok=\d+\s+changed=(\d+)", output)
    assert match, output[-3000:]
    return int(match[1])


def kept(host) -> list[str]:
    return [entry["release"] for entry in json.loads(host.file(INDEX).content_string)]


def files_on_front(host) -> set[str]:
    out = host.check_output(f"cd {STATIC_ROOT} && find . -type f -printf '%P\\n'")
    return set(out.split())


def assert_serves(host, release: Release) -> None:
    answer = get(host, f"/static/{release.css_name}")
    assert answer.status == 200, (release.name, answer.status)
    assert answer.headers["cache-control"] == IMMUTABLE
    assert answer.headers["content-type"] == "text/css"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.body == release.css


def assert_plain_is(host, release: Release) -> None:
    answer = get(host, "/static/style.css")
    assert answer.status == 200
    assert answer.headers["cache-control"] == PLAIN
    assert "immutable" not in answer.headers["cache-control"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.body == release.css, f"/static/style.css should have {release.name}'s content"


def test_the_converged_front_serves_the_first_release_under_both_names(host) -> None:
    assert_serves(host, R[0])
    assert_plain_is(host, R[0])
    # Role nginx's own copy of the app's files (nginx_static_source) did not come back over it.
    assert get(host, "/static/style.css").body != (PROJECT / "app/src/loginapp/static/style.css").read_text()
    script = get(host, f"/static/{R[0].manifest['app.js']}")
    assert (script.status, script.headers["cache-control"]) == (200, IMMUTABLE)
    assert kept(host) == [R[0].name]


def test_a_hashed_name_the_front_does_not_have_is_a_404_with_the_headers(host) -> None:
    answer = get(host, "/static/style.0123456789ab.css")
    assert answer.status == 404
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"


def test_each_release_adds_its_files_and_the_front_keeps_the_last_five(host) -> None:
    host.check_output(f"touch {STATIC_ROOT}/stray.txt")
    for number in range(1, 6):  # r2 .. r6
        result = send(R[number].name)
        assert result.returncode == 0, result.stdout[-3000:]
        assert f"release {R[number].name}'s 2 static file(s) from the controller" in result.stdout
        assert_plain_is(host, R[number])
        for earlier in R[max(0, number - 4) : number + 1]:
            assert_serves(host, earlier)
    assert kept(host) == [r.name for r in R[1:6]]
    assert get(host, f"/static/{R[0].css_name}").status == 404, "the sixth release back is gone"
    shared = R[0].manifest["app.js"]
    assert {r.manifest["app.js"] for r in R} == {shared}
    assert get(host, f"/static/{shared}").status == 200, "a file a kept release names stays"
    expected = {"style.css", "app.js", shared} | {r.css_name for r in R[1:6]}
    assert files_on_front(host) == expected, "nothing else: the stray file and r1's stylesheet were removed"


def test_the_same_release_again_changes_nothing(host) -> None:
    result = send(R[5].name)
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap_changed(result.stdout) == 0
    assert kept(host)[-1] == R[5].name


def test_a_rollback_to_a_kept_release_needs_nothing_from_the_controller(host) -> None:
    result = send(R[3].name, "/nonexistent/static")
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"release {R[3].name}'s 2 static file(s) kept from before" in result.stdout
    assert_plain_is(host, R[3])
    for release in R[1:6]:
        assert_serves(host, release)
    assert kept(host) == [R[1].name, R[2].name, R[4].name, R[5].name, R[3].name], "sent again: the newest"


def test_a_release_in_neither_place_changes_nothing_and_says_so(host) -> None:
    before = files_on_front(host)
    result = send(R[0].name, "")
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"no static files of release {R[0].name} on the controller" in result.stdout
    assert recap_changed(result.stdout) == 0
    assert files_on_front(host) == before
    assert_plain_is(host, R[3])


def test_a_pruned_release_comes_back_from_the_build_directory(host) -> None:
    result = send(R[0].name)
    assert result.returncode == 0, result.stdout[-3000:]
    assert_serves(host, R[0])
    assert_plain_is(host, R[0])
    assert kept(host) == [R[2].name, R[4].name, R[5].name, R[3].name, R[0].name]
    assert get(host, f"/static/{R[1].css_name}").status == 404, "now the oldest kept one went"


def test_a_manifest_that_names_a_path_outside_the_static_root_is_refused(host, tmp_path) -> None:
    bad = tmp_path / "static"
    bad.mkdir()
    (bad / "manifest.json").write_text(json.dumps({"style.css": "../../../etc/passwd.0123456789ab.css"}))
    before = files_on_front(host), kept(host)
    result = send("0.1.0-bad", bad)
    assert result.returncode != 0
    assert "is not a map of relative file names to content-hashed names" in result.stdout
    assert "stopped before any app node changed" in result.stdout
    assert (files_on_front(host), kept(host)) == before
