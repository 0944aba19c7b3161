"""loginapp: a small Flask sign-in application."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask, current_app, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask.wrappers import Response
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from . import errors, views
from .config import ConfigError, Settings, load_settings
from .users import UserStore, load_users

__all__ = ["ConfigError", "Settings", "create_app"]
__version__ = "0.1.0"

SESSIONLESS_ENDPOINTS = frozenset({"views.healthz", "static"})


class SessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions that never emit Set-Cookie on health/static responses."""

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        if request.endpoint in SESSIONLESS_ENDPOINTS:
            return
        super().save_session(app, session, response)


def static_url(filename: str) -> str:
    """url_for('static') that still works when the request's host was unusable (400 pages)."""
    try:
        return url_for("static", filename=filename)
    except Exception:
        return f"{current_app.static_url_path}/{filename}"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the WSGI app.

    ``config`` keys starting with ``LOGINAPP_`` override the environment variables of the
    same name; any other keys are applied to ``app.config`` last (e.g. ``TESTING``, or
    ``PASSWORD_HASHER`` to use cheap argon2 parameters in tests).
    """
    overrides = dict(config or {})
    environ = {k: v for k, v in os.environ.items() if k.startswith("LOGINAPP_")}
    environ.update({k: str(v) for k, v in overrides.items() if k.startswith("LOGINAPP_")})
    extra = {k: v for k, v in overrides.items() if not k.startswith("LOGINAPP_")}
    settings = load_settings(environ)
    users = load_users(settings.users_file) if settings.users_file else {}

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_urlsafe(48),
        SESSION_COOKIE_SECURE=settings.production,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="loginapp_session",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.session_lifetime),
        MAX_CONTENT_LENGTH=settings.max_content_length,
        WTF_CSRF_TIME_LIMIT=None,
        LOGINAPP_SETTINGS=settings,
        LOGINAPP_RELEASE=settings.release,
        LOGINAPP_HOSTNAME=socket.gethostname(),
    )
    if not settings.production and not settings.secret_key:
        app.logger.warning("LOGINAPP_SECRET_KEY not set: using a random per-process key")
    app.config.update(extra)

    app.session_interface = SessionInterface()
    store = UserStore(users, app.config.get("PASSWORD_HASHER"))
    _ = store.dummy_hash  # computed now so the first unknown-user login is not slower
    app.extensions["loginapp.users"] = store
    CSRFProtect(app)
    app.register_blueprint(views.bp)
    app.add_template_global(static_url)
    errors.register(app)

    hostname = app.config["LOGINAPP_HOSTNAME"]

    @app.after_request
    def served_by(response: Response) -> Response:
        response.headers["X-Served-By"] = hostname
        return response

    if settings.proxy_hops:
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    return app
