"""The playbooks compose role entry points: none edits a file a role renders, names a
path a role owns, or reads a role's private variable."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import ROOT

PLAYBOOKS = sorted((ROOT / "playbooks").rglob("*.yml")) + sorted((ROOT / "playbooks").rglob("*.j2"))
# Paths the roles own, and the modules that would edit a rendered file in place.
FORBIDDEN = [
    (re.compile(r"/opt/|/srv/"), "a path under the app's root (role app owns it)"),
    (re.compile(r"/etc/nginx"), "Nginx's configuration (role nginx owns it)"),
    (re.compile(r"/etc/ssl"), "the certificates (role tls owns them)"),
    (re.compile(r"\b__(app|nginx|tls|common|lock|firewall|ssh)_"), "a role's private variable"),
    (re.compile(r"/var/lib/flask-stack"), "the deploy lock (role lock owns it)"),
    (re.compile(r"\b(ansible\.builtin\.)?(replace|lineinfile|blockinfile):"), "an in-place edit"),
]


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_playbook_reaches_into_no_role(path) -> None:
    text = path.read_text()
    for pattern, what in FORBIDDEN:
        match = pattern.search(text)
        assert match is None, f"{path.relative_to(ROOT)} names {what}: {match.group(0)!r}"


def test_every_role_entry_point_a_playbook_calls_exists() -> None:
    calls = set()
    for path in PLAYBOOKS:
        if path.suffix != ".yml":
            continue
        for match in re.finditer(r"name: (\w+)\n\s+tasks_from: (\w+)", path.read_text()):
            calls.add(match.groups())
    assert calls, "the playbooks call no role entry point"
    for role, entry in calls:
        assert (ROOT / "roles" / role / "tasks" / f"{entry}.yml").is_file(), (role, entry)


def test_every_role_entry_point_a_playbook_calls_has_an_argument_spec() -> None:
    calls = {(entry or "main", role) for path in PLAYBOOKS if path.suffix == ".yml"
             for role, entry in re.findall(r"name: (\w+)(?:\n\s+tasks_from: (\w+))?", path.read_text())
             if (ROOT / "roles" / role).is_dir()}  # fmt: skip
    missing = [f"{role}:{entry}" for entry, role in sorted(calls)
               if entry not in (yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
                                ["argument_specs"])]  # fmt: skip
    assert len(calls) > 20 and missing == [], missing


def test_the_playbooks_parse() -> None:
    for path in PLAYBOOKS:
        if path.suffix == ".yml":
            assert yaml.safe_load(path.read_text()) is not None, path
