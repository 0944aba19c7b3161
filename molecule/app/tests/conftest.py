"""Helpers for the app scenario: run the converge playbook (or role ssh alone) again with other
inputs, reach the app on the node over mutual TLS, and log in to the node over real SSH."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SCENARIO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SCENARIO.parent / "shared"))

from scenario_helpers import converge_fixture, run_playbook  # noqa: E402

run_converge = converge_fixture(SCENARIO, "app.yml")

EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
KEY = EPHEMERAL / "ssh" / "id_ed25519"  # made by converge.yml
# The user Ansible connects as (the one node description: molecule/shared/vars/node.yml).
USER = yaml.safe_load((SCENARIO.parent / "shared" / "vars" / "node.yml").read_text())["node_user"]


@pytest.fixture(scope="module")
def run_ssh_role():
    """`run_ssh_role(*extra_vars)`: role ssh alone on the scenario's node, as ansible-playbook runs it."""

    def run(*extra_vars: str) -> subprocess.CompletedProcess[str]:
        return run_playbook(SCENARIO / "ssh.yml", *extra_vars)

    return run


@pytest.fixture(scope="module")
def address(host) -> str:
    """The node's address on the scenario's network, which the controller reaches directly."""
    return host.check_output("hostname -I").split()[0]


@pytest.fixture(scope="module")
def ssh(address: str, tmp_path_factory: pytest.TempPathFactory):
    """`ssh(*options, command="true")`: a fresh SSH client run as the node's user, from the controller."""
    known_hosts = tmp_path_factory.mktemp("ssh") / "known_hosts"

    def run(*options: str, command: str = "true", key: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=accept-new"]
        cmd += ["-o", f"UserKnownHostsFile={known_hosts}", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
        if key:
            cmd += ["-i", str(KEY), "-o", "IdentitiesOnly=yes"]
        cmd += [*options, f"{USER}@{address}", command]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)

    return run


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
