"""Small HTML error pages; bad input never yields a 500."""

from __future__ import annotations

from flask import Flask, current_app, render_template
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response


def _render(exc: HTTPException, message: str | None = None) -> Response:
    response = exc.get_response()
    text = message or exc.description or ""
    try:
        body = render_template("error.html", code=exc.code, name=exc.name, message=text)
    except Exception:  # the error page itself must never fail
        current_app.logger.exception("error page rendering failed")
        body = f"<!doctype html><title>{exc.code} {escape(exc.name)}</title>" + (
            f"<h1>{exc.code} {escape(exc.name)}</h1><p>{escape(text)}</p>"
        )
    response.set_data(body)
    response.content_type = "text/html; charset=utf-8"
    return response


def handle_csrf(exc: CSRFError) -> Response:
    return _render(exc, "The form expired or was tampered with. Please reload and try again.")


def handle_http(exc: HTTPException) -> Response:
    return _render(exc)


def handle_exception(exc: Exception) -> Response:
    current_app.logger.exception("unhandled error", exc_info=exc)
    return _render(InternalServerError(), "Something went wrong. Please try again later.")


def register(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_exception)
