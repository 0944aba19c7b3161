"""The app's Prometheus metrics (PyPI ``prometheus-client``).

Under Gunicorn, role app sets ``PROMETHEUS_MULTIPROC_DIR`` before a worker imports the app:
each worker writes its samples to its own files there, and the master serves their sum on
``app_metrics_port`` (role app's gunicorn.conf.py), which only the monitor node reaches. Run
alone (development, tests) the samples stay in the process and nothing serves them.

The HTTP metrics have the names and labels role monitor's alert rules read, which any app
deployed with the roles can export (README, "Monitoring"); the sign-in counter is this app's.
"""

from __future__ import annotations

import time

from flask import Flask, g, request
from flask.wrappers import Response
from prometheus_client import Counter, Gauge, Histogram

# Up to the front's proxy timeout; most answers take a few milliseconds, a sign-in one argon2
# verification (about 0.1 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter(
    "http_requests_total",
    "Requests answered, by Flask endpoint ('none' when no route matched), method, status"
    " and release.",
    ["endpoint", "method", "status", "release"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Seconds from the request reaching the app to its answer, by Flask endpoint.",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "http_requests_in_flight",
    "Requests the app is answering now (summed over the live workers).",
    multiprocess_mode="livesum",
)
RELEASE = Gauge(
    "app_release_info",
    "1 while a worker serves the release named by the label.",
    ["release"],
    multiprocess_mode="livemax",
)
SIGN_INS = Counter(
    "loginapp_sign_ins_total",
    "Sign-in attempts by result: ok, failed (wrong user name or password), busy (no password"
    " verification slot free: answered 503), incomplete (a field missing: 400).",
    ["result"],
)
SIGN_IN_RESULTS = ("ok", "failed", "busy", "incomplete")

_START = "loginapp.metrics.start"


def sign_in(result: str) -> None:
    """Count one sign-in attempt with its result (one of SIGN_IN_RESULTS)."""
    SIGN_INS.labels(result).inc()


def _endpoint() -> str:
    return request.endpoint or "none"


def register(app: Flask) -> None:
    """Count and time every request of ``app``; name its release."""
    release = str(app.config.get("LOGINAPP_RELEASE") or "unknown")
    RELEASE.labels(release).set(1)
    for result in SIGN_IN_RESULTS:  # every result at 0 from the start: rates need a first sample
        SIGN_INS.labels(result)

    @app.before_request
    def start_timer() -> None:
        g.setdefault(_START, time.perf_counter())
        IN_FLIGHT.inc()

    @app.after_request
    def count(response: Response) -> Response:
        started = g.get(_START)
        if started is not None:
            LATENCY.labels(_endpoint()).observe(time.perf_counter() - started)
        REQUESTS.labels(_endpoint(), request.method, str(response.status_code), release).inc()
        return response

    @app.teardown_request
    def done(_error: BaseException | None) -> None:
        if g.pop(_START, None) is not None:
            IN_FLIGHT.dec()
