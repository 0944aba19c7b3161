"""Bounded login cost: slots per process and per node, 503 over the limit, the sign-in log."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from loginapp.limits import LoginGate
from loginapp.views import BUSY, INVALID_CREDENTIALS, RETRY_AFTER, log_user, unknown_user

from .conftest import USERS, csrf_token, login

HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


def test_a_process_slot_is_free_again_after_use() -> None:
    gate = LoginGate(process=1, wait_ms=0)
    for _ in range(3):
        with gate.slot() as free:
            assert free


def test_over_the_process_limit_waits_at_most_the_wait_then_gives_up() -> None:
    gate = LoginGate(process=1, wait_ms=200)
    with gate.slot() as first:
        assert first
        start = time.monotonic()
        with gate.slot() as second:
            assert not second
        waited = time.monotonic() - start
    assert 0.15 <= waited < 1.0
    with gate.slot() as later:
        assert later


def test_workers_of_one_node_share_its_slots(tmp_path: Path) -> None:
    """Two gates on one directory stand for two Gunicorn workers: 2 node slots in all."""
    one = LoginGate(process=4, node=2, lock_dir=str(tmp_path), wait_ms=50)
    two = LoginGate(process=4, node=2, lock_dir=str(tmp_path), wait_ms=50)
    with one.slot() as a, two.slot() as b:
        assert a
        assert b
        with one.slot() as c, two.slot() as d:
            assert not c
            assert not d
    with two.slot() as e:
        assert e
    assert sorted(p.name for p in tmp_path.iterdir()) == ["login-slot-0.lock", "login-slot-1.lock"]


def test_a_slot_held_by_another_process_counts_and_is_freed_when_it_dies(tmp_path: Path) -> None:
    gate = LoginGate(process=1, node=1, lock_dir=str(tmp_path), wait_ms=100)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "login-slot-0.lock")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with gate.slot() as free:
            assert not free
    finally:
        holder.kill()
        holder.wait()
    with gate.slot() as free:
        assert free


def test_an_unusable_lock_directory_leaves_the_process_limit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gate = LoginGate(process=1, node=2, lock_dir=str(tmp_path / "missing"), wait_ms=50)
    with gate.slot() as free:
        assert free
        with gate.slot() as second:
            assert not second
    assert "login slots in" in caplog.text
    assert "only the per-process limit applies" in caplog.text


class SlowStore:
    """Wraps the user store's verify: each takes `seconds` and the peak concurrency is kept."""

    def __init__(self, store: Any, seconds: float) -> None:
        self.store, self.seconds = store, seconds
        self.lock = threading.Lock()
        self.running = self.peak = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def __contains__(self, name: object) -> bool:
        return name in self.store

    def verify(self, username: str, password: str) -> bool:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1
        return bool(self.store.verify(username, password))


def sign_in_concurrently(app: Flask, count: int) -> list[tuple[int, str | None]]:
    """`count` sign-ins of alice at once, each from its own client; (status, Retry-After) each."""
    clients = [app.test_client() for _ in range(count)]
    forms = [
        {"username": "alice", "password": USERS["alice"], "csrf_token": csrf_token(c)}
        for c in clients
    ]
    results: list[tuple[int, str | None]] = [(0, None)] * count
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        barrier.wait()
        response = clients[i].post("/", data=forms[i])
        results[i] = (response.status_code, response.headers.get("Retry-After"))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize(
    ("settings", "peak"),
    [
        ({"LOGINAPP_LOGIN_PROCESS_CONCURRENCY": "2"}, 2),
        ({"LOGINAPP_LOGIN_PROCESS_CONCURRENCY": "4", "LOGINAPP_LOGIN_CONCURRENCY": "1"}, 1),
    ],
)
def test_concurrent_sign_ins_wait_for_a_slot_and_all_get_in(
    make_app: Callable[..., Flask], tmp_path: Path, settings: dict[str, str], peak: int
) -> None:
    app = make_app(LOGINAPP_LOGIN_LOCK_DIR=str(tmp_path), LOGINAPP_LOGIN_WAIT_MS="5000", **settings)
    slow = SlowStore(app.extensions["loginapp.users"], 0.05)
    app.extensions["loginapp.users"] = slow
    results = sign_in_concurrently(app, 8)
    assert [status for status, _ in results] == [303] * 8
    assert slow.peak == peak


def test_sign_ins_over_the_limit_get_503_with_retry_after(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = make_app(
        LOGINAPP_LOGIN_LOCK_DIR=str(tmp_path),
        LOGINAPP_LOGIN_PROCESS_CONCURRENCY="4",
        LOGINAPP_LOGIN_CONCURRENCY="2",
        LOGINAPP_LOGIN_WAIT_MS="100",
    )
    slow = SlowStore(app.extensions["loginapp.users"], 0.5)
    app.extensions["loginapp.users"] = slow
    start = time.monotonic()
    results = sign_in_concurrently(app, 6)
    elapsed = time.monotonic() - start
    assert sorted(status for status, _ in results) == [303, 303, 503, 503, 503, 503]
    assert {after for status, after in results if status == 503} == {str(RETRY_AFTER)}
    assert slow.peak == 2
    assert elapsed < 3


def test_the_503_page_is_the_sign_in_form_with_a_message(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(LOGINAPP_LOGIN_WAIT_MS="0")
    client = app.test_client()
    token = csrf_token(client)
    with app.extensions["loginapp.login_gate"].slot() as held:
        assert held
        response = client.post(
            "/", data={"username": "alice", "password": USERS["alice"], "csrf_token": token}
        )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER)
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert BUSY in html
    assert 'name="csrf_token"' in html
    assert USERS["alice"] not in html
    assert 'login busy user="alice" client=127.0.0.1 request_id=-' in caplog.messages
    assert login(client, "alice", USERS["alice"]).status_code == 303


def test_a_failed_sign_in_is_one_line_on_stderr(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    response = login(client, "bob", "wrong password")
    assert response.status_code == 401
    assert INVALID_CREDENTIALS in response.get_data(as_text=True)
    assert capsys.readouterr().err.splitlines() == [
        'login failed user="bob" client=127.0.0.1 request_id=-'
    ]
    assert login(client, "alice", USERS["alice"]).status_code == 303
    assert "login" not in capsys.readouterr().err


def test_a_name_that_is_no_users_is_logged_as_a_keyed_hash_never_as_typed(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """People type their password into the user name field: the log must not keep it."""
    for name in ("correct-horse-typed-here", "correct-horse-typed-here", "mallory"):
        assert login(client, name, "wrong").status_code == 401
    lines = capsys.readouterr().err.splitlines()
    assert all(
        re.fullmatch(
            r"login failed unknown_user=[0-9a-f]{16} client=127\.0\.0\.1 request_id=-", line
        )
        for line in lines
    ), lines
    assert (
        lines[0] == lines[1] != lines[2]
    )  # the same typed name, the same value: repeats can be counted
    assert not any("correct-horse" in line or "mallory" in line for line in lines)


def test_the_keyed_hash_depends_on_the_secret_key(make_app: Callable[..., Flask]) -> None:
    values = set()
    for key in ("k" * 40, "q" * 40):
        with make_app(LOGINAPP_SECRET_KEY=key).test_request_context():
            values.add(unknown_user("mallory"))
    assert len(values) == 2


def test_the_log_names_the_client_a_trusted_proxy_forwards(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_app(LOGINAPP_PROXY_HOPS="1").test_client()
    token = csrf_token(client)
    data = {"username": "bob", "password": "x", "csrf_token": token}
    client.post("/", data=data, headers={"X-Forwarded-For": "203.0.113.9"})
    client.post(
        "/",
        data=data,
        headers={"X-Forwarded-For": "203.0.113.10"},
        environ_base={"REMOTE_ADDR": "192.0.2.5"},
    )
    assert caplog.messages == [
        'login failed user="bob" client=203.0.113.9 request_id=-',
        'login failed user="bob" client=192.0.2.5 request_id=-',
    ]


def test_the_logged_user_name_cannot_forge_a_line(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    login(client, 'x" client=1.2.3.4\nlogin failed user="root', "pw")
    (line,) = capsys.readouterr().err.splitlines()
    assert re.fullmatch(
        r"login failed unknown_user=[0-9a-f]{16} client=127\.0\.0\.1 request_id=-", line
    ), line


@pytest.mark.parametrize(
    ("name", "logged"),
    [
        ("alice", "alice"),
        ("a\rb\tc\x00d\x7fe", "a?b?c?d?e"),
        ("back\\slash", "back?slash"),
        ("line\u2028sep", "line?sep"),
        ("é" * 100, "é" * 64),
    ],
)
def test_log_user(name: str, logged: str) -> None:
    assert log_user(name) == logged


def test_the_log_line_carries_the_request_id_the_front_sent(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    token = csrf_token(client)
    data = {"username": "bob", "password": "x", "csrf_token": token}
    client.post("/", data=data, headers={"X-Request-ID": "0123456789abcdef0123456789abcdef"})
    client.post("/", data=data, headers={"X-Request-ID": "bad id=x login ok"})
    assert capsys.readouterr().err.splitlines() == [
        'login failed user="bob" client=127.0.0.1 request_id=0123456789abcdef0123456789abcdef',
        'login failed user="bob" client=127.0.0.1 request_id=-',
    ]
