"""Helpers for the app scenario: run the converge playbook again with other inputs, and reach the app
on the node over mutual TLS."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

SCENARIO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SCENARIO.parent / "shared"))

from scenario_helpers import converge_fixture  # noqa: E402

run_converge = converge_fixture(SCENARIO)

APP_PORT = 8000
# Role tls's files for mutual TLS (entry point peer, converge.yml): the internal CA, which signed
# the app's certificate and every client's it accepts, and the node's own certificate and key,
# which (usage server) are also a client's, as the role's own probes use them.
PEER_CA = "/etc/ssl/flask-stack/peer-ca.crt"
PEER_CERT = "/etc/ssl/flask-stack/peer.crt"
PEER_KEY = "/etc/ssl/flask-stack/peer.key"


def curl_app(
    host,
    path: str,
    options: str = "-sf --max-time 2",
    address: str = "127.0.0.1",
    client: tuple[str, str] | None = (PEER_CERT, PEER_KEY),
) -> str:
    """The command line of a curl on the node to the app at address, over mutual TLS: it presents
    client (a certificate and its key; None: none), and verifies the app's certificate against the
    internal CA and by the node's name, which --resolve sends to address (never -k)."""
    name = host.backend.host  # the inventory name, which the node's certificate names
    cert = f"--cert {shlex.quote(client[0])} --key {shlex.quote(client[1])} " if client else ""
    return (
        f"curl {options} --cacert {PEER_CA} {cert}--resolve {name}:{APP_PORT}:{address} https://{name}:{APP_PORT}{path}"
    )


def app_tls_argv(host, address: str = "127.0.0.1") -> str:
    """The same for Python on the node (tests/test_app.py's SIGN_IN): the address to connect to, the
    name to verify, the CA, the certificate and the key, as shell words."""
    return shlex.join([address, host.backend.host, PEER_CA, PEER_CERT, PEER_KEY])
