"""A broken release: importing the WSGI module fails."""

import loginapp_missing_dependency  # noqa: F401

app = None
