"""Lab and scenario secrets: made once, private, and a hash that verifies."""

from __future__ import annotations

import stat
from pathlib import Path

from argon2 import PasswordHasher
from make_secrets import make_secrets


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
