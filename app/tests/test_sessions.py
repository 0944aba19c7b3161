"""A signed-in session ends at its absolute age, with its user's password, and at its sign-out
on every node that hears of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from loginapp.sessions import SessionPolicy

from .conftest import FAST_HASHER, USERS, csrf_token, login

COOKIE = "loginapp_session"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def with_clock(app: Flask, clock: Clock) -> Flask:
    policy: SessionPolicy = app.extensions["loginapp.sessions"]
    policy.clock = clock
    policy.revoked.clock = clock
    return app


def signed_in(client: FlaskClient) -> bool:
    return client.get("/home").status_code == 200


def stolen(app: Flask, cookie: str) -> FlaskClient:
    """Another browser that presents a copy of the cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie)
    return thief


def sign_in(app: Flask) -> tuple[FlaskClient, str]:
    client = app.test_client()
    assert login(client, "alice", USERS["alice"]).status_code == 303
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return client, cookie.value


def test_a_session_ends_at_its_max_age_however_often_it_is_used(
    make_app: Callable[..., Flask],
) -> None:
    clock = Clock()
    app = with_clock(make_app(LOGINAPP_SESSION_MAX_AGE="600"), clock)
    client, _ = sign_in(app)
    for _ in range(5):
        clock.now += 110
        assert signed_in(client)  # 550 s in, used every 110 s
    clock.now += 60
    assert not signed_in(client)
    assert client.get("/home").headers["Location"].startswith("/?next=")


def test_a_new_password_ends_the_sessions_made_with_the_old_one(
    make_app: Callable[..., Flask], users_file: Path
) -> None:
    _, cookie = sign_in(make_app())
    assert signed_in(stolen(make_app(), cookie))  # a restart with the same users file keeps it
    users_file.write_text(f"alice:{FAST_HASHER.hash('a brand new passphrase')}\n", encoding="utf-8")
    assert not signed_in(stolen(make_app(), cookie))


def test_a_signed_out_cookie_is_refused_by_every_worker_of_the_node(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    client, cookie = sign_in(app)
    other_worker = make_app()  # same state directory
    assert signed_in(stolen(other_worker, cookie))
    token = csrf_token(client, "/home")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert not signed_in(stolen(app, cookie))
    assert not signed_in(stolen(other_worker, cookie))
    assert signed_in(sign_in(app)[0])  # signing in again works


def test_a_sign_out_sent_to_another_node_ends_the_session_there(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    """What a front does with a sign-out: the same request, cookie and token, to every app node."""
    (tmp_path / "node2").mkdir()
    node1 = make_app()
    node2 = make_app(LOGINAPP_STATE_DIR=str(tmp_path / "node2"))
    client, _ = sign_in(node1)
    token = csrf_token(client, "/home")
    cookie = client.get_cookie(COOKIE).value  # type: ignore[union-attr]  # the one the sign-out carries
    copy = stolen(node2, cookie)
    assert signed_in(copy)
    assert copy.post("/logout", data={"csrf_token": token}).status_code == 303
    assert not signed_in(stolen(node2, cookie))
    assert signed_in(stolen(node1, cookie))  # node1 never heard of it: the fronts tell every node


@pytest.mark.parametrize("drop", ["iat", "sid", "pwd"])
def test_a_session_without_its_issue_time_id_or_fingerprint_is_not_signed_in(
    app: Flask, drop: str
) -> None:
    client, _ = sign_in(app)
    with client.session_transaction() as session:
        del session[drop]
    assert not signed_in(client)


def test_a_state_directory_that_cannot_be_used_is_a_config_error(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    from loginapp import ConfigError

    with pytest.raises(ConfigError, match="LOGINAPP_STATE_DIR"):
        make_app(LOGINAPP_STATE_DIR=str(tmp_path / "missing"))


def test_revoked_ids_are_forgotten_once_their_sessions_would_have_ended(tmp_path: Path) -> None:
    from loginapp.sessions import RevokedSessions

    clock = Clock()
    revoked = RevokedSessions(str(tmp_path), clock)
    revoked.revoke("old", int(clock.now) + 10)
    assert "old" in revoked
    clock.now += 11
    revoked.revoke("new", int(clock.now) + 10)
    assert "old" not in revoked
    assert "new" in revoked
