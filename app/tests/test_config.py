from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask, request, url_for

from loginapp import ConfigError, create_app
from loginapp.config import load_settings

from .conftest import FAST_HASHER, SECRET

KEY_MESSAGE = "LOGINAPP_SECRET_KEY must be set and at least 32 bytes"


@pytest.mark.parametrize("key", [None, "", "short", "x" * 31])
def test_production_refuses_missing_or_short_key(users_file: Path, key: str | None) -> None:
    config = {"LOGINAPP_USERS_FILE": str(users_file)}
    if key is not None:
        config["LOGINAPP_SECRET_KEY"] = key
    with pytest.raises(ConfigError) as info:
        create_app(config)
    assert str(info.value) == KEY_MESSAGE
    assert isinstance(info.value, RuntimeError)


def test_production_refuses_short_key_from_environment(
    users_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGINAPP_USERS_FILE", str(users_file))
    monkeypatch.setenv("LOGINAPP_SECRET_KEY", "too-short")
    with pytest.raises(ConfigError, match=r"^LOGINAPP_SECRET_KEY must be set"):
        create_app()


def test_environment_variables_are_read(users_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGINAPP_USERS_FILE", str(users_file))
    monkeypatch.setenv("LOGINAPP_SECRET_KEY", SECRET)
    monkeypatch.setenv("LOGINAPP_RELEASE", "rel-7")
    monkeypatch.setenv("LOGINAPP_SESSION_LIFETIME", "120")
    monkeypatch.setenv("LOGINAPP_MAX_CONTENT_LENGTH", "4096")
    app = create_app({"PASSWORD_HASHER": FAST_HASHER})  # the users file's cheap test hashes
    assert app.config["SECRET_KEY"] == SECRET
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(seconds=120)
    assert app.config["MAX_CONTENT_LENGTH"] == 4096
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.test_client().get("/healthz").get_json()["release"] == "rel-7"


def test_key_length_counts_bytes(users_file: Path) -> None:
    key = "é" * 16  # 32 bytes in UTF-8
    config = {"LOGINAPP_SECRET_KEY": key, "LOGINAPP_USERS_FILE": str(users_file)}
    app = create_app({**config, "PASSWORD_HASHER": FAST_HASHER})
    assert app.config["SECRET_KEY"] == key


def test_production_requires_users_file() -> None:
    with pytest.raises(ConfigError, match="LOGINAPP_USERS_FILE must be set"):
        create_app({"LOGINAPP_SECRET_KEY": SECRET})


def test_development_allows_missing_key_and_insecure_cookie() -> None:
    app = create_app({"LOGINAPP_ENV": "development"})
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert len(app.config["SECRET_KEY"]) >= 32
    assert app.test_client().get("/").status_code == 200


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOGINAPP_ENV", "staging"),
        ("LOGINAPP_PROXY_HOPS", "one"),
        ("LOGINAPP_PROXY_HOPS", "-1"),
        ("LOGINAPP_SESSION_LIFETIME", "0"),
        ("LOGINAPP_SESSION_LIFETIME", "1.5"),
        ("LOGINAPP_MAX_CONTENT_LENGTH", "lots"),
        ("LOGINAPP_EXPOSE_HOSTNAME", "maybe"),
        ("LOGINAPP_TRUSTED_PROXIES", "10.0.0.1,front1"),
        ("LOGINAPP_LOGIN_CONCURRENCY", "-1"),
        ("LOGINAPP_LOGIN_PROCESS_CONCURRENCY", "0"),
        ("LOGINAPP_LOGIN_WAIT_MS", "60000"),
    ],
)
def test_invalid_values(name: str, value: str) -> None:
    env = {"LOGINAPP_SECRET_KEY": SECRET, "LOGINAPP_USERS_FILE": "/dev/null", name: value}
    with pytest.raises(ConfigError, match=name) as info:
        load_settings(env)
    assert "\n" not in str(info.value)


def test_defaults() -> None:
    settings = load_settings({"LOGINAPP_SECRET_KEY": SECRET, "LOGINAPP_USERS_FILE": "/x"})
    assert settings.env == "production"
    assert settings.release == "dev"
    assert settings.proxy_hops == 0
    assert settings.session_lifetime == 3600
    assert settings.max_content_length == 65536
    assert settings.expose_hostname is False
    assert [str(n) for n in settings.trusted_proxies] == ["127.0.0.1/32", "::1/128"]
    assert settings.login_concurrency == 0
    assert settings.login_process_concurrency == 1
    assert settings.login_wait_ms == 1000
    assert settings.login_lock_dir is None


def test_lock_dir_defaults_to_the_runtime_directory() -> None:
    base = {"LOGINAPP_SECRET_KEY": SECRET, "LOGINAPP_USERS_FILE": "/x"}
    assert load_settings({**base, "RUNTIME_DIRECTORY": "/run/a:/run/b"}).login_lock_dir == "/run/a"
    explicit = {**base, "RUNTIME_DIRECTORY": "/run/a", "LOGINAPP_LOGIN_LOCK_DIR": "/srv/locks"}
    assert load_settings(explicit).login_lock_dir == "/srv/locks"


def _probe(app: Flask) -> None:
    @app.get("/probe")
    def probe() -> dict[str, str | None]:
        return {
            "scheme": request.scheme,
            "remote_addr": request.remote_addr,
            "host": request.host,
            "external": url_for("views.home", _external=True),
        }


FORWARDED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "login.example.org",
}


def test_proxy_fix_with_one_hop(make_app: Callable[..., Flask]) -> None:
    app = make_app(LOGINAPP_PROXY_HOPS="1")
    _probe(app)
    data = app.test_client().get("/probe", headers=FORWARDED).get_json()
    assert data == {
        "scheme": "https",
        "remote_addr": "203.0.113.9",
        "host": "login.example.org",
        "external": "https://login.example.org/home",
    }


def test_proxy_fix_uses_last_hop_only(make_app: Callable[..., Flask]) -> None:
    app = make_app(LOGINAPP_PROXY_HOPS="1")
    _probe(app)
    headers = {**FORWARDED, "X-Forwarded-For": "6.6.6.6, 203.0.113.9"}
    data = app.test_client().get("/probe", headers=headers).get_json()
    assert data["remote_addr"] == "203.0.113.9"


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [
        ("127.0.0.1", True),
        ("10.0.0.7", True),
        ("::ffff:10.0.0.7", True),
        ("10.0.0.8", False),
        ("192.0.2.1", False),
        ("::1", False),
    ],
)
def test_forwarded_headers_count_only_from_trusted_proxies(
    make_app: Callable[..., Flask], peer: str, trusted: bool
) -> None:
    app = make_app(LOGINAPP_PROXY_HOPS="1", LOGINAPP_TRUSTED_PROXIES="127.0.0.1, 10.0.0.7/32")
    _probe(app)
    data = app.test_client().get("/probe", headers=FORWARDED, environ_base={"REMOTE_ADDR": peer})
    answer = data.get_json()
    if trusted:
        assert (answer["remote_addr"], answer["scheme"]) == ("203.0.113.9", "https")
        assert answer["host"] == "login.example.org"
    else:
        assert (answer["remote_addr"], answer["scheme"]) == (peer, "http")
        assert answer["host"] == "localhost"


def test_no_proxy_fix_by_default(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    _probe(app)
    data = app.test_client().get("/probe", headers=FORWARDED).get_json()
    assert data["scheme"] == "http"
    assert data["remote_addr"] == "127.0.0.1"
    assert data["external"].startswith("http://localhost/")


def test_password_hasher_override_is_used(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    assert app.extensions["loginapp.users"].hasher is FAST_HASHER


@pytest.mark.parametrize("path", ["/", "/home", "/healthz", "/nope"])
def test_unusable_forwarded_host_is_400_not_500(make_app: Callable[..., Flask], path: str) -> None:
    app = make_app(LOGINAPP_PROXY_HOPS="1")
    response = app.test_client().get(path, headers={"X-Forwarded-Host": "."})
    assert response.status_code == 400
    assert "/static/style.css" in response.get_data(as_text=True)


def test_https_login_behind_proxy_checks_referer(make_app: Callable[..., Flask]) -> None:
    """Flask-WTF's strict HTTPS mode: same-origin Referer required on HTTPS POSTs."""
    from .conftest import USERS, csrf_token

    app = make_app(LOGINAPP_PROXY_HOPS="1")
    client = app.test_client()
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "login.example"}
    token = csrf_token(client)
    data = {"username": "alice", "password": USERS["alice"], "csrf_token": token}
    assert client.post("/", data=data, headers=proxy).status_code == 400
    evil = {**proxy, "Referer": "https://evil.example/"}
    assert client.post("/", data=data, headers=evil).status_code == 400
    good = {**proxy, "Referer": "https://login.example/"}
    response = client.post("/", data=data, headers=good)
    assert response.status_code == 303
    assert response.headers["Location"] == "/home"
