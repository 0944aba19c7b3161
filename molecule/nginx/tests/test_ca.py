"""The project CA as a client meets it on the front: it can sign the site's names only, and nothing outlives it."""

from __future__ import annotations

import datetime
import re
import stat
from pathlib import Path

from cryptography import x509

testinfra_hosts = ["ansible://fronts"]

SITE = "flask-stack.test"  # role tls's default tls_site_names, which the scenario keeps
CERT = "/etc/ssl/flask-stack/site.crt"
PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def chain(host) -> list[x509.Certificate]:
    """The file Nginx serves: the front's certificate, then the project CA."""
    return [x509.load_pem_x509_certificate(pem.encode()) for pem in PEM.findall(host.file(CERT).content_string)]


def test_the_front_certificate_names_the_site_only(host) -> None:
    leaf, _ = chain(host)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [(type(n).__name__, n.value) for n in names] == [("DNSName", SITE)]


def test_the_ca_in_the_chain_permits_the_site_and_no_address(host) -> None:
    _, ca = chain(host)
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert [n.value for n in constraints.value.permitted_subtrees or []] == [SITE]
    assert {str(n.value) for n in constraints.value.excluded_subtrees or []} == {"0.0.0.0/0", "::/0"}
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0


def test_the_front_certificate_is_short_lived_and_ends_before_the_ca(host) -> None:
    leaf, ca = chain(host)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= datetime.timedelta(days=90)
    assert leaf.not_valid_after_utc <= ca.not_valid_after_utc
    assert ca.not_valid_after_utc - ca.not_valid_before_utc <= datetime.timedelta(days=365)


def test_the_ca_directory_on_the_controller_is_its_owner_s_only(host) -> None:
    ca_dir = Path(host.ansible.get_variables()["tls_ca_dir"])
    assert stat.S_IMODE(ca_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((ca_dir / "ca.key").stat().st_mode) == 0o600
    assert x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes()) == chain(host)[1]
