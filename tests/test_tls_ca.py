"""Role tls's project CA, made on this machine by the role's `ca` entry point (no container).

The CA can sign for the site's names only (critical name constraints, no IP address), lives
one year, and its key stays outside the project tree, readable by its owner only. A CA that
no longer fits stops the run until the user asks for a new one.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import re
import shutil
import stat
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import ROOT

SITE_NAMES = ["flask-stack.test", "www.flask-stack.test", "*.apps.example.org"]
PERMITTED = ["flask-stack.test", "www.flask-stack.test", "apps.example.org"]
CA_DAYS = 365


@dataclass
class Run:
    returncode: int
    output: str

    @property
    def changed(self) -> int:
        found = re.search(r"localhost\s*: ok=\d+\s+changed=(\d+)", self.output)
        assert found, self.output[-3000:]
        return int(found.group(1))


@dataclass
class Workspace:
    """An inventory directory `inventory` (so the CA goes to .../tls/<inventory>) and a data home."""

    root: Path
    inventory: str

    @property
    def data_home(self) -> Path:
        return self.root / "data"

    @property
    def ca_dir(self) -> Path:
        return self.data_home / "flask-stack" / "tls" / self.inventory

    def run(self, **variables: object) -> Run:
        """Run `include_role: {name: tls, tasks_from: ca}` on localhost with these variables."""
        inventory = self.root / self.inventory
        inventory.mkdir(exist_ok=True)
        hosts = {
            "all": {
                "hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}
            }
        }
        (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
        playbook = self.root / "ca.yml"
        task = {"name": "Make the project CA", "ansible.builtin.include_role": {"name": "tls", "tasks_from": "ca"}}
        playbook.write_text(
            yaml.safe_dump([{"name": "CA", "hosts": "localhost", "gather_facts": False, "tasks": [task]}])
        )
        extra = self.root / "vars.yml"
        extra.write_text(yaml.safe_dump({"tls_site_names": SITE_NAMES, **variables}))
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
            "ANSIBLE_CACHE_PLUGIN": "memory",
            "ANSIBLE_NOCOLOR": "1",
            "XDG_DATA_HOME": str(self.data_home),
        }
        result = subprocess.run(
            [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory / "hosts.yml"),
             "-e", f"@{extra}", str(playbook)],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False,
        )  # fmt: skip
        return Run(result.returncode, result.stdout + result.stderr)

    def digests(self) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(self.ca_dir.iterdir())}

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.ca_dir / "ca.crt").read_bytes())


def new_workspace(tmp: Path) -> Workspace:
    return Workspace(tmp, f"inv-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Workspace, Run]:
    """One CA made with the default tls_ca_dir, XDG_DATA_HOME pointing at a temporary directory."""
    workspace = new_workspace(tmp_path_factory.mktemp("ca"))
    result = workspace.run()
    assert result.returncode == 0, result.output[-3000:]
    return workspace, result


def sign_leaf(workspace: Workspace, directory: Path, names: list[x509.GeneralName]) -> Path:
    """A server certificate for `names`, signed with the project CA's key as an attacker holding it would."""
    ca = workspace.certificate()
    ca_key = serialization.load_pem_private_key((workspace.ca_dir / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(names), critical=True)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    path = directory / f"leaf-{uuid.uuid4().hex[:8]}.pem"
    path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    return path


def openssl_verify(workspace: Workspace, leaf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "verify", "-CAfile", str(workspace.ca_dir / "ca.crt"), "-purpose", "sslserver", str(leaf)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


# --- Where the CA lives ---------------------------------------------------------------------------


def test_the_ca_is_made_outside_the_project_for_its_owner_only(made) -> None:
    workspace, result = made
    assert result.changed > 0
    ca_dir = workspace.ca_dir
    assert ca_dir == workspace.data_home / "flask-stack" / "tls" / workspace.inventory
    assert not ca_dir.resolve().is_relative_to(ROOT.resolve())
    assert sorted(p.name for p in ca_dir.iterdir()) == ["ca.crt", "ca.key"]
    assert stat.S_IMODE(ca_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((ca_dir / "ca.key").stat().st_mode) == 0o600
    for path in (ca_dir, ca_dir / "ca.key", ca_dir / "ca.crt"):
        assert path.stat().st_uid == os.getuid()


# --- What the CA can sign -------------------------------------------------------------------------


def test_the_ca_is_constrained_to_the_site_names_and_no_address(made) -> None:
    workspace, _ = made
    text = subprocess.run(
        ["openssl", "x509", "-noout", "-text", "-in", str(workspace.ca_dir / "ca.crt")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "X509v3 Name Constraints: critical" in text, text
    constraints = workspace.certificate().extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert [n.value for n in constraints.value.permitted_subtrees or []] == PERMITTED
    assert all(isinstance(n, x509.DNSName) for n in constraints.value.permitted_subtrees or [])
    assert [n.value for n in constraints.value.excluded_subtrees or []] == [
        ipaddress.ip_network("0.0.0.0/0"),
        ipaddress.ip_network("::/0"),
    ]


def test_the_ca_signs_end_certificates_only(made) -> None:
    workspace, _ = made
    extensions = workspace.certificate().extensions
    basic = extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not (usage.value.digital_signature or usage.value.key_encipherment)


def test_the_ca_lives_one_year(made) -> None:
    workspace, _ = made
    ca = workspace.certificate()
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=CA_DAYS)
    assert ca.not_valid_before_utc <= datetime.datetime.now(datetime.UTC)


@pytest.mark.parametrize(
    "names",
    [
        [x509.DNSName("flask-stack.test")],
        [x509.DNSName("www.flask-stack.test")],
        [x509.DNSName("shop.apps.example.org")],
    ],
    ids=lambda names: ",".join(str(n.value) for n in names),
)
def test_openssl_accepts_a_certificate_for_the_site(made, tmp_path: Path, names) -> None:
    workspace, _ = made
    result = openssl_verify(workspace, sign_leaf(workspace, tmp_path, names))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("names", "error"),
    [
        ([x509.DNSName("bank.example")], "permitted subtree violation"),
        ([x509.DNSName("flask-stack.test.evil.example")], "permitted subtree violation"),
        ([x509.DNSName("evilflask-stack.test")], "permitted subtree violation"),
        ([x509.DNSName("flask-stack.test"), x509.IPAddress(ipaddress.ip_address("192.0.2.10"))], "excluded subtree"),
        ([x509.DNSName("flask-stack.test"), x509.IPAddress(ipaddress.ip_address("2001:db8::1"))], "excluded subtree"),
    ],
    ids=lambda value: ",".join(str(n.value) for n in value) if isinstance(value, list) else "",
)
def test_openssl_refuses_a_certificate_for_another_name_or_an_address(made, tmp_path: Path, names, error) -> None:
    workspace, _ = made
    result = openssl_verify(workspace, sign_leaf(workspace, tmp_path, names))
    assert result.returncode != 0
    assert error in result.stdout + result.stderr, result.stdout + result.stderr


# --- Runs after the first -------------------------------------------------------------------------


def test_a_second_run_changes_nothing(made) -> None:
    workspace, _ = made
    before = workspace.digests()
    again = workspace.run()
    assert again.returncode == 0, again.output[-3000:]
    assert again.changed == 0, again.output[-3000:]
    assert workspace.digests() == before


def test_a_name_within_the_constraints_keeps_the_ca(made) -> None:
    workspace, _ = made
    before = workspace.digests()
    result = workspace.run(tls_site_names=["flask-stack.test", "api.flask-stack.test"])
    assert result.returncode == 0, result.output[-3000:]
    assert result.changed == 0
    assert workspace.digests() == before


def test_a_name_outside_the_constraints_stops_the_run_until_tls_ca_replace(tmp_path: Path) -> None:
    workspace = new_workspace(tmp_path)
    assert workspace.run().returncode == 0
    before = workspace.digests()
    names = [*SITE_NAMES, "shop.example.com"]
    refused = workspace.run(tls_site_names=names)
    assert refused.returncode != 0
    assert "do not cover shop.example.com" in refused.output, refused.output[-3000:]
    assert "-e tls_ca_replace=true" in refused.output and "Nothing was changed" in refused.output
    assert workspace.digests() == before

    replaced = workspace.run(tls_site_names=names, tls_ca_replace=True)
    assert replaced.returncode == 0, replaced.output[-3000:]
    after = workspace.digests()
    assert after["ca.key"] != before["ca.key"] and after["ca.crt"] != before["ca.crt"]
    constraints = workspace.certificate().extensions.get_extension_for_class(x509.NameConstraints).value
    assert [n.value for n in constraints.permitted_subtrees or []] == [*PERMITTED, "shop.example.com"]
    # tls_ca_replace left on: a CA that fits is kept.
    again = workspace.run(tls_site_names=names, tls_ca_replace=True)
    assert again.returncode == 0 and again.changed == 0, again.output[-3000:]
    assert workspace.digests() == after


def test_a_ca_that_ends_within_the_renewal_window_stops_the_run(tmp_path: Path) -> None:
    workspace = new_workspace(tmp_path)
    assert workspace.run(tls_ca_days=20).returncode == 0
    before = workspace.digests()
    refused = workspace.run(tls_renew_days=30)
    assert refused.returncode != 0
    ends = workspace.certificate().not_valid_after_utc.strftime("%Y-%m-%d")
    assert f"it ends on {ends}" in refused.output and "within tls_renew_days (30 days)" in refused.output, (
        refused.output[-3000:]
    )
    assert workspace.digests() == before
    replaced = workspace.run(tls_renew_days=30, tls_ca_replace=True)
    assert replaced.returncode == 0, replaced.output[-3000:]
    ca = workspace.certificate()
    assert ca.not_valid_after_utc - ca.not_valid_before_utc == datetime.timedelta(days=CA_DAYS)


def test_a_ca_key_left_inside_the_project_stops_the_run(tmp_path: Path) -> None:
    workspace = new_workspace(tmp_path)
    old = ROOT / ".tls" / workspace.inventory
    old.mkdir(parents=True)
    try:
        (old / "ca.key").write_text("an earlier version's key\n")
        refused = workspace.run()
    finally:
        shutil.rmtree(old)
        if not any(old.parent.iterdir()):
            old.parent.rmdir()
    assert refused.returncode != 0
    assert f"shred -u {old}/ca.key" in refused.output, refused.output[-3000:]
    assert not workspace.ca_dir.exists()
