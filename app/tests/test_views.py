from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from loginapp.views import INVALID_CREDENTIALS, safe_next

from .conftest import USERS, csrf_token, login


def test_login_form_renders_with_csrf(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Sign In" in html
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert 'type="password"' in html
    assert 'value="Submit"' in html
    assert 'name="csrf_token"' in html
    assert "/static/style.css" in html
    assert response.headers["Cache-Control"] == "no-store"


def test_good_login_redirects_home_with_secure_cookie(client: FlaskClient) -> None:
    response = login(client, "alice", USERS["alice"])
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == "/home"
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("loginapp_session="))
    assert "; Secure" in session_cookie
    assert "; HttpOnly" in session_cookie
    assert "; SameSite=Lax" in session_cookie
    assert "Expires=" in session_cookie  # permanent session


@pytest.mark.parametrize("expose", [True, False])
def test_home_shows_user_release_and_hostname_when_exposed(
    make_app: Callable[..., Flask], expose: bool
) -> None:
    client = make_app(LOGINAPP_EXPOSE_HOSTNAME=str(expose).lower()).test_client()
    login(client, "alice", USERS["alice"])
    response = client.get("/home")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "alice" in html
    assert (socket.gethostname() in html) is expose
    assert ("Served by" in html) is expose
    assert "r-test-42" in html
    assert response.headers["Cache-Control"] == "no-store"


def test_signed_in_user_visiting_root_goes_home(client: FlaskClient) -> None:
    login(client, "bob", USERS["bob"])
    response = client.get("/")
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == "/home"


def test_home_requires_login(client: FlaskClient) -> None:
    response = client.get("/home")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/?next=")
    assert "Set-Cookie" not in response.headers


def test_session_for_removed_user_is_rejected(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = make_app()
    client = app.test_client()
    login(client, "alice", USERS["alice"])
    empty = tmp_path / "empty-users"
    empty.write_text("# nobody\n")
    other = make_app(LOGINAPP_USERS_FILE=str(empty))
    other_client = other.test_client()
    cookie = client.get_cookie("loginapp_session")
    assert cookie is not None
    other_client.set_cookie("loginapp_session", cookie.value)
    assert other_client.get("/home").status_code == 302


def test_bad_password_and_unknown_user_identical(client: FlaskClient) -> None:
    bad = login(client, "alice", "wrong password")
    unknown = login(client, "mallory", "wrong password")
    assert bad.status_code == unknown.status_code == 401
    bad_html = bad.get_data(as_text=True)
    unknown_html = unknown.get_data(as_text=True)
    assert INVALID_CREDENTIALS in bad_html
    assert INVALID_CREDENTIALS in unknown_html
    assert INVALID_CREDENTIALS == "Invalid username or password."
    assert 'name="csrf_token"' in bad_html
    assert "wrong password" not in bad_html
    assert client.get("/home").status_code == 302


def test_empty_fields_rejected(client: FlaskClient) -> None:
    token = csrf_token(client)
    response = client.post("/", data={"csrf_token": token, "username": "", "password": ""})
    assert response.status_code == 400
    assert "Sign In" in response.get_data(as_text=True)


def test_missing_csrf_is_400(client: FlaskClient) -> None:
    response = client.post("/", data={"username": "alice", "password": USERS["alice"]})
    assert response.status_code == 400
    assert "400" in response.get_data(as_text=True)
    assert client.get("/home").status_code == 302


def test_wrong_csrf_is_400(client: FlaskClient) -> None:
    csrf_token(client)
    response = client.post(
        "/",
        data={"username": "alice", "password": USERS["alice"], "csrf_token": "bogus.token"},
    )
    assert response.status_code == 400
    assert client.get("/home").status_code == 302


def test_csrf_token_from_other_session_is_400(app: Flask) -> None:
    token = csrf_token(app.test_client())
    other = app.test_client()
    other.get("/")
    response = other.post(
        "/", data={"username": "alice", "password": USERS["alice"], "csrf_token": token}
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example",
        "//evil.example/home",
        "/\\evil.example",
        "\\\\evil.example",
        "http:evil.example",
        "javascript:alert(1)",
        "home",
        "/\t/evil.example",
    ],
)
def test_offsite_next_ignored(client: FlaskClient, target: str) -> None:
    from urllib.parse import quote

    response = login(client, "alice", USERS["alice"], "?next=" + quote(target, safe=""))
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == "/home"


def test_safe_next_honoured(client: FlaskClient) -> None:
    response = login(client, "alice", USERS["alice"], "?next=/home%3Ftab%3D1")
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == "/home?tab=1"


def test_next_survives_failed_attempt(client: FlaskClient) -> None:
    response = login(client, "alice", "nope", "?next=/home")
    assert response.status_code == 401
    assert 'action="/?next=/home"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/home", "/home"),
        ("/a/b?c=d", "/a/b?c=d"),
        ("", None),
        (None, None),
        ("//x", None),
        ("/\\x", None),
        ("https://x/", None),
        ("x", None),
        ("/" + "a" * 5000, None),
    ],
)
def test_safe_next_unit(value: str | None, expected: str | None) -> None:
    assert safe_next(value) == expected


def test_body_over_limit_is_413(make_app: Callable[..., Flask]) -> None:
    client = make_app(LOGINAPP_MAX_CONTENT_LENGTH="2048").test_client()
    response = client.post("/", data={"username": "a", "password": "x" * 5000})
    assert response.status_code == 413
    assert "413" in response.get_data(as_text=True)


def test_default_limit_is_64k(client: FlaskClient) -> None:
    response = client.post("/", data={"username": "a", "password": "x" * 70000})
    assert response.status_code == 413


def test_unknown_path_is_404(client: FlaskClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.content_type.startswith("text/html")
    assert "404" in response.get_data(as_text=True)


def test_wrong_method_is_405(client: FlaskClient) -> None:
    response = client.get("/logout")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert client.put("/").status_code == 405
    assert client.post("/healthz").status_code == 405


def test_unhandled_error_renders_500_page(app: Flask) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise ValueError("boom")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert "500" in response.get_data(as_text=True)
    assert "boom" not in response.get_data(as_text=True)


def test_logout_clears_session(client: FlaskClient) -> None:
    login(client, "alice", USERS["alice"])
    assert client.get("/home").status_code == 200
    token = csrf_token(client, "/home")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == "/"
    assert client.get("/home").status_code == 302


def test_logout_requires_csrf(client: FlaskClient) -> None:
    login(client, "alice", USERS["alice"])
    assert client.post("/logout").status_code == 400
    assert client.get("/home").status_code == 200


def test_old_cookie_does_not_survive_relogin(client: FlaskClient) -> None:
    csrf_token(client)
    before = client.get_cookie("loginapp_session")
    login(client, "alice", USERS["alice"])
    after = client.get_cookie("loginapp_session")
    assert before is not None
    assert after is not None
    assert before.value != after.value


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "release": "r-test-42"}
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_through_a_front_says_only_whether_the_app_is_healthy(client: FlaskClient) -> None:
    """A front proxies a client's /healthz with X-Forwarded-For: no release, no node name."""
    response = client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_does_not_touch_signed_in_session(client: FlaskClient) -> None:
    login(client, "alice", USERS["alice"])
    response = client.get("/healthz")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_default_release_is_dev(make_app: Callable[..., Flask]) -> None:
    app = make_app(LOGINAPP_RELEASE="")
    assert app.test_client().get("/healthz").get_json()["release"] == "dev"


def test_healthz_names_the_host_when_exposed(make_app: Callable[..., Flask]) -> None:
    client = make_app(LOGINAPP_EXPOSE_HOSTNAME="1").test_client()
    assert client.get("/healthz").get_json() == {
        "status": "ok",
        "release": "r-test-42",
        "hostname": socket.gethostname(),
    }


PATHS = ["/", "/healthz", "/nope", "/home", "/static/style.css"]


@pytest.mark.parametrize("path", PATHS)
def test_x_served_by_header_when_exposed(make_app: Callable[..., Flask], path: str) -> None:
    response = make_app(LOGINAPP_EXPOSE_HOSTNAME="yes").test_client().get(path)
    assert response.headers["X-Served-By"] == socket.gethostname()


@pytest.mark.parametrize("path", PATHS)
def test_no_host_name_by_default(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert "X-Served-By" not in response.headers
    assert socket.gethostname() not in response.get_data(as_text=True)


def test_static_css(client: FlaskClient) -> None:
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert response.content_type.startswith("text/css")
    assert ".card" in response.get_data(as_text=True)
