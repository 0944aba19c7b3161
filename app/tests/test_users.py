from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from loginapp import ConfigError, create_app
from loginapp.users import DUMMY_HASH, UserStore, load_users, parameters, parse_users

from .conftest import FAST_HASHER, SECRET, USERS


def test_parse_ignores_comments_and_blank_lines(users_text: str) -> None:
    text = "\n  # leading comment\n\n" + users_text + "   \n# trailing\n"
    users = parse_users(text)
    assert sorted(users) == ["alice", "bob"]
    assert users["alice"].startswith("$argon2id$")


def test_load_users_file(users_file: Path) -> None:
    assert sorted(load_users(users_file)) == ["alice", "bob"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("no-colon-here", "expected 'username:hash'"),
        ("alice:", "expected 'username:hash'"),
        (":$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "expected 'username:hash'"),
        ("alice:plaintext-password", "not a valid argon2 hash"),
        ("bad user:$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "invalid username"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "users"
    path.write_text(f"# header\n\n{line}\n")
    with pytest.raises(ConfigError) as info:
        load_users(path)
    message = str(info.value)
    assert f"users file {path} line 3" in message
    assert reason in message
    assert "\n" not in message


def test_duplicate_user_rejected(tmp_path: Path) -> None:
    h = FAST_HASHER.hash("pw")
    path = tmp_path / "users"
    path.write_text(f"alice:{h}\nalice:{h}\n")
    with pytest.raises(ConfigError, match="line 2: duplicate user 'alice'"):
        load_users(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read users file .*missing"):
        load_users(tmp_path / "missing")


def test_create_app_fails_on_malformed_file(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("alice\n")
    with pytest.raises(ConfigError, match=f"users file {path} line 1"):
        create_app({"LOGINAPP_SECRET_KEY": SECRET, "LOGINAPP_USERS_FILE": str(path)})


def test_verify() -> None:
    store = UserStore({"alice": FAST_HASHER.hash(USERS["alice"])}, FAST_HASHER)
    assert store.verify("alice", USERS["alice"])
    assert not store.verify("alice", "wrong")
    assert not store.verify("nobody", USERS["alice"])
    assert not store.verify("alice", "")
    assert not store.verify("alice", "\ud800 lone surrogate")
    assert len(store) == 1
    assert "alice" in store


def test_verify_never_raises_on_broken_hash() -> None:
    store = UserStore(
        {"alice": "$argon2id$garbage", "bob": "not-a-hash", "carol": "$argon2id$v=19$m=8$"},
        FAST_HASHER,
    )
    for user in ("alice", "bob", "carol"):
        assert store.verify(user, "anything") is False


def test_dummy_hash_is_cached() -> None:
    store = UserStore({}, FAST_HASHER)
    assert not store.verify("ghost", "pw")
    first = store.dummy_hash
    assert not store.verify("ghost", "pw2")
    assert store.dummy_hash is first


def test_the_dummy_hash_has_the_stores_parameters_not_a_users_and_costs_nothing_at_start() -> None:
    """An unknown name costs what a known one with the project's parameters does; the project's
    dummy is a constant, so no worker computes a 64 MiB hash as it starts."""

    class CountingHasher(PasswordHasher):
        made = 0

        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            CountingHasher.made += 1
            return super().hash(password, salt=salt)

    stronger = PasswordHasher(time_cost=4, memory_cost=8, parallelism=1).hash("x")
    store = UserStore({"alice": stronger}, CountingHasher())
    assert store.dummy_hash == DUMMY_HASH
    assert extract_parameters(store.dummy_hash) == parameters(PasswordHasher())
    assert CountingHasher.made == 0
    cheap = UserStore({"alice": stronger}, FAST_HASHER)
    assert extract_parameters(cheap.dummy_hash) == parameters(FAST_HASHER)


@pytest.mark.parametrize(
    ("hasher", "problem"),
    [
        (
            PasswordHasher(time_cost=3, memory_cost=32, parallelism=4),
            "memory m=32 KiB, below m=65536",
        ),
        (PasswordHasher(time_cost=1, memory_cost=65536, parallelism=4), "time t=1, below t=3"),
        (PasswordHasher(type=Type.I), "argon2i, not argon2id"),
    ],
)
def test_a_hash_weaker_than_the_apps_own_is_refused_naming_the_line(
    hasher: PasswordHasher, problem: str
) -> None:
    text = f"# users\nalice:{PasswordHasher().hash('a')}\nbob:{hasher.hash('b')}\n"
    with pytest.raises(ConfigError) as error:
        parse_users(text, "users", parameters(PasswordHasher()))
    assert str(error.value) == (
        f"users file users line 3: the hash of 'bob' is weaker than this app accepts ({problem}); "
        "make it again with `loginapp hash-password`"
    )
    assert parse_users(text, "users").keys() == {
        "alice",
        "bob",
    }  # no minimum: the hashes only parse


def test_the_app_refuses_a_users_file_weaker_than_its_hasher(
    tmp_path: Path, users_text: str
) -> None:
    path = tmp_path / "users"
    path.write_text(users_text, encoding="utf-8")  # made with the cheap test hasher
    with pytest.raises(
        ConfigError, match="line 3: the hash of 'alice' is weaker than this app accepts"
    ):
        create_app({"LOGINAPP_USERS_FILE": str(path), "LOGINAPP_SECRET_KEY": "k" * 40})
