"""Facts about the cluster that several roles read, computed in one place.

- ``front_addresses``: the addresses the fronts connect from (role app's socket and
  forwarded-allow list, role firewall's app sources).
- ``upstream_servers``: one ``{host, address, port, tls}`` per app node (role nginx's upstream,
  role tls's names in an app node's certificate).
- ``app_port``: an app node's port, its ``app_port`` or role app's default.
- ``mutual_tls``: whether any app node speaks mutual TLS (the runs that give the nodes their
  certificates for it: site.yml, renew.yml).
- ``app_name``: an app node's service name, its ``app_name`` or role app's default (role
  exporters' systemd units, role monitor's alert on the app's service).
- ``node_address``: the address other nodes reach a node at (role monitor's scrape targets).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

APP_DEFAULTS = Path(__file__).resolve().parents[2] / "roles" / "app" / "defaults" / "main.yml"


@functools.cache
def _app_defaults() -> Mapping[str, Any]:
    """Role app's defaults: the one place ``app_port`` and ``app_tls`` are written."""
    return yaml.safe_load(APP_DEFAULTS.read_text(encoding="utf-8"))


def _app_default_port() -> int:
    return int(_app_defaults()["app_port"])


def app_tls(node_vars: Mapping[str, Any]) -> bool:
    """Whether an app node serves the fronts over mutual TLS: its ``app_tls``, or role app's default."""
    value = node_vars.get("app_tls")
    if value in (None, ""):
        value = _app_defaults()["app_tls"]
    return str(value).lower() in ("true", "yes", "on", "1")


def _facts(hostvars: Mapping[str, Any], host: str) -> Mapping[str, Any]:
    return hostvars[host].get("ansible_facts", {}) or {}


def front_addresses(fronts: Iterable[str], hostvars: Mapping[str, Any], exclude: Iterable[str] = ()) -> list[str]:
    """Every IPv4 and (not link-local) IPv6 address of the fronts, in order, once each.

    ``exclude`` holds the addresses that are never a front's own, such as the floating
    address (role vip): whichever front holds it when facts are read, it is left out, so
    that the address moving never changes what an app node allows.
    """
    skip = {address for address in exclude if address}
    found: list[str] = []
    for host in fronts:
        facts = _facts(hostvars, host)
        ipv6 = [a for a in facts.get("all_ipv6_addresses", []) or [] if not str(a).lower().startswith("fe80:")]
        for address in list(facts.get("all_ipv4_addresses", []) or []) + ipv6:
            if address and address not in skip and address not in found:
                found.append(str(address))
    return found


def app_port(node_vars: Mapping[str, Any]) -> int | str:
    """An app node's port: its ``app_port`` from the inventory, or role app's default.

    A value that is not a number is handed back as it is, for the input check to name it.
    """
    value = node_vars.get("app_port")
    if value in (None, ""):
        return _app_default_port()
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def app_metrics_port(node_vars: Mapping[str, Any]) -> int:
    """The port an app node serves its metrics on: its ``app_metrics_port`` from the inventory, or
    role app's default; 0 when it serves none (or the value is not a number, which role app's
    input check names)."""
    value = node_vars.get("app_metrics_port")
    if value in (None, ""):
        value = _app_defaults()["app_metrics_port"]
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


def app_name(node_vars: Mapping[str, Any]) -> str:
    """An app node's service name: its ``app_name`` from the inventory, or role app's default."""
    value = node_vars.get("app_name")
    return str(value) if value not in (None, "") else str(_app_defaults()["app_name"])


def node_address(host: str, hostvars: Mapping[str, Any]) -> str:
    """A node's default IPv4 address from its facts, else its ``ansible_host``, else its name."""
    address = (_facts(hostvars, host).get("default_ipv4") or {}).get("address")
    return str(address or hostvars[host].get("ansible_host") or host)


def upstream_servers(hosts: Iterable[str], hostvars: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One server per app node: its ``app_upstream_address``, else its default IPv4 address,
    else ``ansible_host``, else its name; its port; and whether it speaks mutual TLS."""
    servers = []
    for host in hosts:
        node = hostvars[host]
        address = node.get("app_upstream_address")
        if not address:
            address = node_address(host, hostvars)
        servers.append({"host": host, "address": str(address), "port": app_port(node), "tls": app_tls(node)})
    return servers


def mutual_tls(hosts: Iterable[str], hostvars: Mapping[str, Any]) -> bool:
    """Whether any of these app nodes serves the fronts over mutual TLS (``app_tls``): then every
    front and app node needs its certificate from the internal CA (role tls, entry point peer)."""
    return any(app_tls(hostvars[host]) for host in hosts)


class FilterModule:
    """Ansible's entry point for the filters above."""

    def filters(self) -> dict[str, Any]:
        return {
            "front_addresses": front_addresses,
            "app_port": app_port,
            "app_metrics_port": app_metrics_port,
            "app_tls": app_tls,
            "app_name": app_name,
            "node_address": node_address,
            "mutual_tls": mutual_tls,
            "upstream_servers": upstream_servers,
        }
