"""An unhealthy release: it imports fine, then answers 503 to everything."""

from collections.abc import Callable, Iterable


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"unhealthy release\n"]
