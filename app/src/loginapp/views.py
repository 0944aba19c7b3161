"""Routes: sign in, home, logout, health check."""

from __future__ import annotations

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

from .forms import LoginForm, LogoutForm
from .users import UserStore

bp = Blueprint("views", __name__)

INVALID_CREDENTIALS = "Invalid username or password."
MISSING_FIELDS = "Please enter a username and a password."


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


def _current_user() -> str | None:
    user = session.get("user")
    if isinstance(user, str) and user in _store():
        return user
    return None


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
            if _store().verify(username, form.password.data or ""):
                session.clear()
                session.permanent = True
                session["user"] = username
                return redirect(next_url or url_for("views.home"), code=303)
            error, status = INVALID_CREDENTIALS, 401
        else:
            error, status = MISSING_FIELDS, 400
    form.password.data = None
    action = url_for("views.login", next=next_url) if next_url else url_for("views.login")
    body = render_template("login.html", form=form, error=error, action=action)
    return _no_store(make_response(body, status))


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
        form=LogoutForm(),
    )
    return _no_store(make_response(body))


@bp.post("/logout")
def logout() -> BaseResponse:
    session.clear()
    return redirect(url_for("views.login"), code=303)


@bp.get("/healthz")
def healthz() -> Response:
    response = jsonify(
        status="ok",
        release=current_app.config["LOGINAPP_RELEASE"],
        hostname=current_app.config["LOGINAPP_HOSTNAME"],
    )
    response.headers["Cache-Control"] = "no-store"
    return response
