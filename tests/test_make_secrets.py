"""Lab and scenario secrets: made once, private, and a hash that verifies."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from make_secrets import DEMO_USER, make_secrets, secret_vars

from conftest import ROOT


def test_secrets_are_made_once_with_private_modes(tmp_path: Path) -> None:
    target = tmp_path / "secrets"
    assert make_secrets(target) == ["secret_key", "demo_password", "demo_password_hash"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    for name in ("secret_key", "demo_password", "demo_password_hash"):
        assert stat.S_IMODE((target / name).stat().st_mode) == 0o600
    key = (target / "secret_key").read_text().strip()
    assert len(key.encode()) >= 32
    assert make_secrets(target) == []
    assert (target / "secret_key").read_text().strip() == key


def test_the_hash_verifies_the_password(tmp_path: Path) -> None:
    make_secrets(tmp_path)
    password = (tmp_path / "demo_password").read_text().strip()
    assert PasswordHasher().verify((tmp_path / "demo_password_hash").read_text().strip(), password)


def test_secret_vars_read_the_files_at_run_time_and_hold_no_secret(tmp_path: Path) -> None:
    make_secrets(tmp_path)
    wiring = secret_vars(tmp_path)
    key = wiring["app_secret_environment"]["LOGINAPP_SECRET_KEY"]
    assert key == f"{{{{ lookup('ansible.builtin.file', '{tmp_path}/secret_key') }}}}"
    users = wiring["app_config_files"]
    assert [f["name"] for f in users] == ["users"]
    assert users[0]["content"].startswith(f"{DEMO_USER}:{{{{ lookup(")
    assert f"'{tmp_path}/demo_password_hash'" in users[0]["content"]
    assert users[0]["content"].endswith("\n")
    text = json.dumps(wiring)
    for name in ("secret_key", "demo_password", "demo_password_hash"):
        assert (tmp_path / name).read_text().strip() not in text


def test_molecule_wires_its_secrets_the_same_way() -> None:
    config = yaml.safe_load((ROOT / ".config" / "molecule" / "config.yml").read_text())
    molecule_all = config["provisioner"]["inventory"]["group_vars"]["all"]
    expected = secret_vars("${MOLECULE_EPHEMERAL_DIRECTORY}/secrets")
    assert {k: molecule_all[k] for k in expected} == expected
