"""The app's metrics: every answer counted by endpoint, method, status and release, and timed;
sign-ins by result; nothing in flight once answered; the release named."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY

from .conftest import USERS, login

RELEASE = "r-test-42"  # conftest's make_app


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def requests(endpoint: str, method: str, status: int) -> float:
    labels = {"endpoint": endpoint, "method": method, "status": str(status), "release": RELEASE}
    return sample("http_requests_total", **labels)


def test_each_answer_is_counted_with_its_endpoint_status_and_release(client: FlaskClient) -> None:
    before = {
        "page": requests("views.login", "GET", 200),
        "health": requests("views.healthz", "GET", 200),
        "missing": requests("none", "GET", 404),
        "timed": sample("http_request_duration_seconds_count", endpoint="views.healthz"),
    }
    assert client.get("/").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    assert requests("views.login", "GET", 200) - before["page"] == 1
    assert requests("views.healthz", "GET", 200) - before["health"] == 2
    assert requests("none", "GET", 404) - before["missing"] == 1
    timed = sample("http_request_duration_seconds_count", endpoint="views.healthz")
    assert timed - before["timed"] == 2
    assert sample("http_requests_in_flight") == 0
    assert sample("app_release_info", release=RELEASE) == 1


def test_a_post_without_its_csrf_token_is_counted_as_refused(client: FlaskClient) -> None:
    before = requests("views.login", "POST", 400)
    assert client.post("/", data={"username": "alice", "password": "x"}).status_code == 400
    assert requests("views.login", "POST", 400) - before == 1


def test_sign_ins_are_counted_by_result(app: Flask) -> None:
    results = ("ok", "failed", "incomplete")
    before = {result: sample("loginapp_sign_ins_total", result=result) for result in results}
    assert login(app.test_client(), "alice", USERS["alice"]).status_code == 303
    client = app.test_client()  # not signed in
    assert login(client, "alice", "wrong").status_code == 401
    assert login(client, "nobody", "wrong").status_code == 401
    assert login(client, "", "").status_code == 400
    after = {result: sample("loginapp_sign_ins_total", result=result) for result in results}
    counted = {result: after[result] - before[result] for result in results}
    assert counted == {"ok": 1, "failed": 2, "incomplete": 1}


def test_a_sign_in_with_no_slot_free_is_counted_busy(make_app: Callable[..., Flask]) -> None:
    app = make_app(LOGINAPP_LOGIN_WAIT_MS="0")
    client = app.test_client()
    before = sample("loginapp_sign_ins_total", result="busy")
    with app.extensions["loginapp.login_gate"].slot() as held:  # the process's only slot
        assert held
        assert login(client, "alice", USERS["alice"]).status_code == 503
    assert sample("loginapp_sign_ins_total", result="busy") - before == 1
    assert requests("views.login", "POST", 503) >= 1
