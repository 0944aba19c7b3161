from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from loginapp import create_app

# Cheap argon2 parameters: tests stay fast, verification logic is identical.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
SECRET = "s" * 40
USERS = {"alice": "correct horse battery staple", "bob": "hunter2-but-longer"}
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture(scope="session")
def users_text() -> str:
    lines = ["# test users", ""]
    lines += [f"{name}:{FAST_HASHER.hash(pw)}" for name, pw in USERS.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def users_file(tmp_path: Path, users_text: str) -> Path:
    path = tmp_path / "users"
    path.write_text(users_text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("LOGINAPP_"):
            monkeypatch.delenv(key)


@pytest.fixture
def make_app(users_file: Path, tmp_path: Path) -> Callable[..., Flask]:
    def factory(**overrides: Any) -> Flask:
        config: dict[str, Any] = {
            "LOGINAPP_SECRET_KEY": SECRET,
            "LOGINAPP_USERS_FILE": str(users_file),
            "LOGINAPP_STATE_DIR": str(tmp_path),
            "LOGINAPP_RELEASE": "r-test-42",
            "PASSWORD_HASHER": FAST_HASHER,
            "TESTING": True,
        }
        config.update(overrides)
        return create_app(config)

    return factory


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as c:
        yield c


def csrf_token(client: FlaskClient, path: str = "/") -> str:
    response = client.get(path)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return match.group(1)


def login(client: FlaskClient, username: str, password: str, query: str = "") -> TestResponse:
    token = csrf_token(client)
    return client.post(
        "/" + query,
        data={"username": username, "password": password, "csrf_token": token},
    )
