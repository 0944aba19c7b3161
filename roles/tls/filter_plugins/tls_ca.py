"""Filter of role tls: read a CA certificate's name constraints (community.crypto's info module does not)."""

from __future__ import annotations

import ipaddress
from typing import Any

from cryptography import x509


def _name(general_name: x509.GeneralName) -> str:
    if isinstance(general_name, x509.DNSName):
        return f"DNS:{general_name.value}"
    if isinstance(general_name, x509.IPAddress) and isinstance(
        general_name.value, ipaddress.IPv4Network | ipaddress.IPv6Network
    ):
        return f"IP:{general_name.value.network_address.compressed}/{general_name.value.prefixlen}"
    return f"{type(general_name).__name__}:{general_name.value}"


def tls_name_constraints(pem: str) -> dict[str, Any]:
    """A PEM certificate's name constraints: {'critical': bool, 'permitted': ['DNS:...'], 'excluded': ['IP:...']}.

    Names are spelled as community.crypto spells them (DNS:name, IP:address/prefix); all empty when there are none.
    """
    certificate = x509.load_pem_x509_certificate(pem.encode())
    try:
        extension = certificate.extensions.get_extension_for_class(x509.NameConstraints)
    except x509.ExtensionNotFound:
        return {"critical": False, "permitted": [], "excluded": []}
    value = extension.value
    return {
        "critical": extension.critical,
        "permitted": [_name(n) for n in value.permitted_subtrees or []],
        "excluded": [_name(n) for n in value.excluded_subtrees or []],
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"tls_name_constraints": tls_name_constraints}
