"""Routes: sign in, home, logout, health check."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from . import metrics
from .forms import PASSWORD_MAX, USERNAME_MAX, LoginForm
from .limits import LoginGate
from .sessions import SessionPolicy
from .users import UserStore

bp = Blueprint("views", __name__)

INVALID_CREDENTIALS = "Invalid username or password."
MISSING_FIELDS = "Please enter a username and a password."
BUSY = "Too many sign-ins at this moment. Please try again in a few seconds."
# Seconds a client is asked to wait (Retry-After) when every sign-in slot was busy.
RETRY_AFTER = 2
# A request id the sign-in log takes as it is (Nginx's $request_id is 32 hex digits); any
# other value is logged as "-".
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Longest user name written to the sign-in log.
LOG_USER_MAX = 64


def log_user(name: str) -> str:
    """A user name fit for one log line: no control or non-printable characters, no quotes
    or backslashes (each becomes ``?``), at most LOG_USER_MAX characters."""
    cleaned = "".join(ch if ch.isprintable() and ch not in '"\\' else "?" for ch in name)
    return cleaned[:LOG_USER_MAX]


def request_id() -> str:
    """The request's id from the front (X-Request-ID, also in its access log), or ``-``."""
    value = request.headers.get("X-Request-ID", "")
    return value if REQUEST_ID.fullmatch(value) else "-"


def unknown_user(name: str) -> str:
    """A name that is no user's, as the log may keep it: people type their password into the
    user name field, so only a keyed hash of it (16 hex digits, the app's secret key as the
    key) is written; the same typed name gives the same value, nothing gives the name back."""
    key = str(current_app.secret_key).encode()
    return hmac.new(
        key, b"loginapp-log-user\0" + name.encode("utf-8", "surrogatepass"), hashlib.sha256
    ).hexdigest()[:16]


def _log_sign_in(event: str, username: str) -> None:
    """One greppable line: ``login <event> user="<name>" client=<address> request_id=<id>``,
    or ``unknown_user=<keyed hash>`` instead of ``user=`` for a name that is no user's."""
    logger: logging.Logger = current_app.extensions["loginapp.auth_log"]
    who = (
        f'user="{log_user(username)}"'
        if username in _store()
        else f"unknown_user={unknown_user(username)}"
    )
    logger.warning(
        "login %s %s client=%s request_id=%s", event, who, request.remote_addr or "-", request_id()
    )


def safe_next(target: str | None) -> str | None:
    """Return target if it is a local absolute path (``/x``), else None."""
    if not target or len(target) > 2048:
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _store() -> UserStore:
    store: UserStore = current_app.extensions["loginapp.users"]
    return store


def _gate() -> LoginGate:
    gate: LoginGate = current_app.extensions["loginapp.login_gate"]
    return gate


def _sessions() -> SessionPolicy:
    policy: SessionPolicy = current_app.extensions["loginapp.sessions"]
    return policy


def _current_user() -> str | None:
    """The signed-in user while the session is good (see sessions.py), else None."""
    return _sessions().user(session, _store().stored_hash)


def _no_store(response: BaseResponse) -> BaseResponse:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/", methods=["GET", "POST"])
def login() -> BaseResponse:
    next_url = safe_next(request.args.get("next"))
    if _current_user() is not None:
        return redirect(next_url or url_for("views.home"), code=303)
    form = LoginForm()
    error: str | None = None
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            username = form.username.data or ""
            with _gate().slot() as free:
                verified = free and _store().verify(username, form.password.data or "")
            if verified:
                metrics.sign_in("ok")
                _sessions().start(session, username, _store().stored_hash(username) or "")
                session.permanent = True
                return redirect(next_url or url_for("views.home"), code=303)
            if free:
                _log_sign_in("failed", username)
                metrics.sign_in("failed")
                error, status = INVALID_CREDENTIALS, 401
            else:
                _log_sign_in("busy", username)
                metrics.sign_in("busy")
                error, status = BUSY, 503
        else:
            metrics.sign_in("incomplete")
            error, status = MISSING_FIELDS, 400
    form.password.data = None
    action = url_for("views.login", next=next_url) if next_url else url_for("views.login")
    body = render_template(
        "login.html",
        form=form,
        error=error,
        action=action,
        username_max=USERNAME_MAX,
        password_max=PASSWORD_MAX,
    )
    response = _no_store(make_response(body, status))
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER)
    return response


@bp.get("/home")
def home() -> BaseResponse:
    user = _current_user()
    if user is None:
        session.pop("user", None)
        return redirect(url_for("views.login", next="/home"))
    body = render_template(
        "home.html",
        user=user,
        hostname=current_app.config["LOGINAPP_HOSTNAME"],
        release=current_app.config["LOGINAPP_RELEASE"],
    )
    return _no_store(make_response(body))


@bp.post("/logout")
def logout() -> BaseResponse:
    _sessions().end(session)
    return redirect(url_for("views.login"), code=303)


@bp.get("/healthz")
def healthz() -> Response:
    """Healthy or not, to anyone; the release and the node's name only to a direct asker.

    A request a front proxies for a client carries X-Forwarded-For (the fronts always set
    it); a front's own health check, status.yml and the node itself ask without it. Only
    the fronts and loopback reach the app's port at all.
    """
    answer = {"status": "ok"}
    if "X-Forwarded-For" not in request.headers:
        answer["release"] = current_app.config["LOGINAPP_RELEASE"]
        if current_app.config["LOGINAPP_HOSTNAME"]:
            answer["hostname"] = current_app.config["LOGINAPP_HOSTNAME"]
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"
    return response
