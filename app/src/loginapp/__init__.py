"""loginapp: a small Flask sign-in application."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
import socket
import sys
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from flask import Flask, current_app, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask.wrappers import Response
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from . import errors, metrics, views
from .config import ConfigError, Settings, load_settings
from .limits import LoginGate
from .sessions import RevokedSessions, SessionPolicy
from .users import UserStore, load_users, parameters

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["ConfigError", "Settings", "create_app"]
__version__ = "0.1.0"

SESSIONLESS_ENDPOINTS = frozenset({"views.healthz", "static"})


class SessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions that never emit Set-Cookie on health/static responses."""

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        if request.endpoint in SESSIONLESS_ENDPOINTS:
            return
        super().save_session(app, session, response)


# Written by the release build (roles/app/files/release.py) next to the static files:
# {"style.css": "style.<sha256[:12]>.css"}. A source tree has none: plain names then.
STATIC_MANIFEST = "manifest.json"
STATIC_MANIFEST_KEY = "loginapp.static_manifest"


def load_static_manifest(static_folder: str | None) -> dict[str, str]:
    """The release's {logical name: hashed name}; {} without a manifest (development, tests)."""
    if not static_folder:
        return {}
    path = Path(static_folder) / STATIC_MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as error:
        raise ConfigError(f"{path} is not JSON: {error}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ConfigError(f"{path} is not a map of file names to hashed names")
    return data


def static_url(filename: str) -> str:
    """The URL of a static file under its content-hashed name when the release has one.

    Falls back to the plain name without a manifest, and works when the request's host
    was unusable (400 pages).
    """
    filename = current_app.extensions.get(STATIC_MANIFEST_KEY, {}).get(filename, filename)
    try:
        return url_for("static", filename=filename)
    except Exception:
        return f"{current_app.static_url_path}/{filename}"


AUTH_LOGGER = "loginapp.auth"
# Environment variables of the process that are not LOGINAPP_* but that the settings read.
PROCESS_ENVIRONMENT = ("RUNTIME_DIRECTORY", "STATE_DIRECTORY")


class TrustedProxyFix:
    """ProxyFix for requests whose direct peer is a trusted proxy; others pass unchanged.

    Werkzeug's ProxyFix believes X-Forwarded-* from whoever connects. Here only a peer in
    ``trusted`` (the fronts, loopback) gets them applied; any other peer's forwarded headers
    are ignored, so it cannot forge its address, scheme or host.
    """

    def __init__(
        self,
        app: WSGIApplication,
        hops: int,
        trusted: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network],
    ) -> None:
        self.app = app
        self.trusted = tuple(trusted)
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=hops)

    def is_trusted(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address((peer or "").split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        if self.is_trusted(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)


class StderrLineHandler(logging.Handler):
    """Each record as one line on the process's stderr of the moment (the journal under systemd)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def _auth_logger() -> logging.Logger:
    """The sign-in log (see README.md, "Sign-in log"); records also propagate as usual."""
    logger = logging.getLogger(AUTH_LOGGER)
    logger.setLevel(logging.INFO)
    if not any(isinstance(h, StderrLineHandler) for h in logger.handlers):
        logger.addHandler(StderrLineHandler())
    return logger


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the WSGI app.

    ``config`` keys starting with ``LOGINAPP_`` override the environment variables of the
    same name; any other keys are applied to ``app.config`` last (e.g. ``TESTING``, or
    ``PASSWORD_HASHER`` to use cheap argon2 parameters in tests).
    """
    overrides = dict(config or {})
    environ = {
        k: v for k, v in os.environ.items() if k.startswith("LOGINAPP_") or k in PROCESS_ENVIRONMENT
    }
    environ.update({k: str(v) for k, v in overrides.items() if k.startswith("LOGINAPP_")})
    extra = {k: v for k, v in overrides.items() if not k.startswith("LOGINAPP_")}
    settings = load_settings(environ)
    # The app's own hasher (cheap ones in tests): no user's hash may be weaker than what it makes.
    hasher = extra.get("PASSWORD_HASHER") or PasswordHasher()
    users = load_users(settings.users_file, parameters(hasher)) if settings.users_file else {}

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
        LOGINAPP_HOSTNAME=socket.gethostname() if settings.expose_hostname else None,
    )
    if not settings.production and not settings.secret_key:
        app.logger.warning("LOGINAPP_SECRET_KEY not set: using a random per-process key")
    app.config.update(extra)

    app.session_interface = SessionInterface()
    store = UserStore(users, hasher)
    app.extensions["loginapp.users"] = store
    app.extensions["loginapp.login_gate"] = LoginGate(
        process=settings.login_process_concurrency,
        node=settings.login_concurrency,
        lock_dir=settings.login_lock_dir,
        wait_ms=settings.login_wait_ms,
    )
    if settings.login_concurrency and not settings.login_lock_dir:
        app.logger.warning(
            "LOGINAPP_LOGIN_CONCURRENCY is set but there is no lock directory "
            "(LOGINAPP_LOGIN_LOCK_DIR or RUNTIME_DIRECTORY): only the per-process limit applies"
        )
    if settings.production and not settings.state_dir:
        app.logger.warning(
            "No state directory (LOGINAPP_STATE_DIR or STATE_DIRECTORY): a sign-out is known "
            "to this process only"
        )
    app.extensions["loginapp.sessions"] = SessionPolicy(
        str(app.config["SECRET_KEY"]), settings.session_max_age, RevokedSessions(settings.state_dir)
    )
    app.extensions["loginapp.auth_log"] = _auth_logger()
    # First, so that every request is timed and counted, those CSRFProtect refuses too.
    metrics.register(app)
    CSRFProtect(app)
    app.register_blueprint(views.bp)
    app.extensions[STATIC_MANIFEST_KEY] = load_static_manifest(app.static_folder)
    app.add_template_global(static_url)
    errors.register(app)

    hostname = app.config["LOGINAPP_HOSTNAME"]
    if hostname:

        @app.after_request
        def served_by(response: Response) -> Response:
            response.headers["X-Served-By"] = hostname
            return response

    if settings.proxy_hops:
        app.wsgi_app = TrustedProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, settings.proxy_hops, settings.trusted_proxies
        )
    return app
