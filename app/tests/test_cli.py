from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from loginapp import cli

from .conftest import SECRET


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_hash_password_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(monkeypatch, capsys, ["hash-password"], "s3cret pässword\nignored\n")
    assert code == 0
    hashed = out.strip()
    assert hashed.startswith("$argon2id$")
    assert out.count("\n") == 1
    assert PasswordHasher().verify(hashed, "s3cret pässword")


def test_hash_password_strips_crlf(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(monkeypatch, capsys, ["hash-password"], "pw with space \r\n")
    assert code == 0
    assert PasswordHasher().verify(out.strip(), "pw with space ")


@pytest.mark.parametrize("stdin", ["", "\n", "\r\n"])
def test_hash_password_refuses_empty(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str
) -> None:
    code, out, err = run(monkeypatch, capsys, ["hash-password"], stdin)
    assert code != 0
    assert out == ""
    assert "empty password" in err


def test_hash_password_prompts_on_tty(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter(["tty-pass", "tty-pass"])
    monkeypatch.setattr(sys, "stdin", FakeTTY())
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert cli.main(["hash-password"]) == 0
    assert PasswordHasher().verify(capsys.readouterr().out.strip(), "tty-pass")


def test_hash_password_tty_mismatch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter(["one", "two"])
    monkeypatch.setattr(sys, "stdin", FakeTTY())
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert cli.main(["hash-password"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "do not match" in err


def test_hash_password_rejects_argv_password(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["hash-password", "secret-on-argv"])
    assert info.value.code == 2


def test_check_config_ok(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], users_file: Path
) -> None:
    monkeypatch.setenv("LOGINAPP_SECRET_KEY", SECRET)
    monkeypatch.setenv("LOGINAPP_USERS_FILE", str(users_file))
    code, out, err = run(monkeypatch, capsys, ["check-config"])
    assert (code, out, err) == (0, "config ok: 2 users\n", "")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LOGINAPP_SECRET_KEY": "short"}, "LOGINAPP_SECRET_KEY must be set and at least 32"),
        ({}, "LOGINAPP_SECRET_KEY must be set and at least 32"),
        ({"LOGINAPP_USERS_FILE": "/nonexistent/users"}, "cannot read users file"),
        ({"LOGINAPP_PROXY_HOPS": "x"}, "LOGINAPP_PROXY_HOPS"),
        ({"LOGINAPP_SESSION_LIFETIME": "-5"}, "LOGINAPP_SESSION_LIFETIME"),
        ({"LOGINAPP_USERS_FILE": "BAD"}, "line 1"),
    ],
)
def test_check_config_failures(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    users_file: Path,
    tmp_path: Path,
    env: dict[str, str],
    expected: str,
) -> None:
    bad = tmp_path / "bad-users"
    bad.write_text("alice=nohash\n")
    base = {"LOGINAPP_SECRET_KEY": SECRET, "LOGINAPP_USERS_FILE": str(users_file)}
    if not env:
        base.pop("LOGINAPP_SECRET_KEY")
    base.update(env)
    if base["LOGINAPP_USERS_FILE"] == "BAD":
        base["LOGINAPP_USERS_FILE"] = str(bad)
    for key, value in base.items():
        monkeypatch.setenv(key, value)
    code, out, err = run(monkeypatch, capsys, ["check-config"])
    assert code != 0
    assert out == ""
    assert expected in err
    assert err.count("\n") == 1


def test_console_entry_point_via_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loginapp", "hash-password"],
        input="from-subprocess\n",
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert PasswordHasher().verify(result.stdout.strip(), "from-subprocess")
