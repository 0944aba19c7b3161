"""Role firewall on the whole cluster: only the fronts reach the app port, the machine
that runs the tests (the controller) does not; each node's live ruleset matches its
role; a ruleset nft refuses and an input that could break out of the ruleset are
refused, and the node keeps its previous ruleset and stays reachable."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from scenario_helpers import ansible_env, run_playbook

from conftest import APP_PORT, Browser, address, direct, https_url, node

TABLE = "flask_stack_filter"
RULES_FILE = "/etc/nftables.d/flask-stack-filter.nft"
ROLLBACK_TIMER = "flask-stack-firewall-rollback.timer"
PROBE_PORT = 9099
FRONT_NAMES = ("front1", "front2")
APP_NAMES = ("app1", "app2")
NODE_EXPORTER, NGINX_EXPORTER = 9100, 9113
APP_METRICS = 9101  # role app's app_metrics_port: Gunicorn's master
ANYWHERE = {"0.0.0.0/0", "::/0"}


def table(name: str) -> dict:
    """The live table of role firewall on a node, as nft's JSON."""
    return json.loads(node(name).check_output(f"nft -j list table inet {TABLE}"))


@dataclass(frozen=True)
class Accept:
    """One accept rule of the input chain that opens ports: to whom (None: any address)."""

    proto: str
    ports: frozenset[int]
    source: str | None


def input_chain(ruleset: dict) -> dict:
    return next(item["chain"] for item in ruleset["nftables"] if item.get("chain", {}).get("hook") == "input")


def input_rules(ruleset: dict) -> list[list[dict]]:
    chain = input_chain(ruleset)["name"]
    return [item["rule"]["expr"] for item in ruleset["nftables"] if item.get("rule", {}).get("chain") == chain]


def port_accepts(ruleset: dict) -> list[Accept]:
    accepts = []
    for expr in input_rules(ruleset):
        if "accept" not in expr[-1]:
            continue
        source, proto, ports = None, None, None
        for match in (e["match"] for e in expr if "match" in e):
            payload = match["left"].get("payload", {})
            right = match["right"]
            if payload.get("field") == "saddr":
                source = f"{right['prefix']['addr']}/{right['prefix']['len']}" if isinstance(right, dict) else right
            if payload.get("field") == "dport":
                proto = payload["protocol"]
                ports = frozenset(right["set"] if isinstance(right, dict) else [right])
        if ports:
            accepts.append(Accept(proto, ports, source))
    return accepts


def open_to(ruleset: dict, port: int, proto: str = "tcp") -> set[str | None]:
    """Every source that an accept rule lets reach the port."""
    return {a.source for a in port_accepts(ruleset) if a.proto == proto and port in a.ports}


def reaches(host: str, port: int, timeout: float = 3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:  # refused, or dropped (timed out)
        return False


def test_the_controller_cannot_reach_the_app_port_but_signs_in_through_a_front(
    browser: Browser, demo_password: str
) -> None:
    app1 = address("app1")
    assert reaches(app1, 22), "the controller should reach app1's SSH: the network path is there"
    assert not reaches(app1, APP_PORT), f"the controller reached app1's app port {app1}:{APP_PORT} directly"
    answer = browser.login(https_url("front1"), "demo", demo_password)
    assert answer.status in (302, 303)
    assert browser.request(https_url("front1", "/home")).status == 200


def test_the_fronts_reach_the_app_port_and_another_app_node_does_not() -> None:
    probe = direct("app1", "/healthz").replace("curl -sS", "curl -s -o /dev/null -w '%{http_code}'")
    for front in FRONT_NAMES:
        code = node(front).run(probe).stdout
        assert code == "200", f"{front} got {code} from app1"
    # app2 holds a certificate of the same CA, and still its packets never reach app1's port.
    blocked = node("app2").run(probe)
    assert (blocked.stdout, blocked.rc) == ("000", 28), f"app2 reached app1 (curl exit {blocked.rc})"


def test_a_service_listening_on_every_address_is_reached_from_loopback_only() -> None:
    """The default drop alone (the app's socket has its own address filter, which this probe has not)."""
    app1, probe = node("app1"), "firewall-probe"
    app1.check_output(f"systemd-run --collect --unit={probe} -p RuntimeMaxSec=60 python3 -m http.server {PROBE_PORT}")
    try:
        retry = "--retry 5 --retry-connrefused --retry-delay 1"
        local = app1.run(
            f"curl -s -o /dev/null -w '%{{http_code}}' {retry} --max-time 3 http://127.0.0.1:{PROBE_PORT}/"
        )
        assert local.stdout == "200", "the probe should answer on app1's loopback"
        assert not reaches(address("app1"), PROBE_PORT), "the controller reached a port no rule opens"
        remote = node("front1").run(f"curl -s -o /dev/null --max-time 3 http://{address('app1')}:{PROBE_PORT}/")
        assert remote.rc == 28, "a front reached a port of app1 other than the app's"
    finally:
        app1.run(f"systemctl stop {probe}")


@pytest.mark.parametrize("name", [*FRONT_NAMES, *APP_NAMES, "app3", "mon1"])
def test_the_live_ruleset_matches_the_nodes_role(name: str) -> None:
    ruleset = table(name)
    chains = {item["chain"]["hook"]: item["chain"] for item in ruleset["nftables"] if "chain" in item}
    assert chains["input"]["policy"] == "drop"
    assert chains["forward"]["policy"] == "drop"
    assert chains["output"]["policy"] == "accept"
    first = input_rules(ruleset)[0]
    assert first[0]["match"]["left"] == {"ct": {"key": "state"}} and "accept" in first[-1], "replies come first"
    assert set(first[0]["match"]["right"]) == {"established", "related"}
    assert open_to(ruleset, 22) == ANYWHERE
    fronts = {address(front) for front in FRONT_NAMES}
    if name in FRONT_NAMES:
        assert open_to(ruleset, 80) == ANYWHERE
        assert open_to(ruleset, 443) == ANYWHERE
        assert open_to(ruleset, APP_PORT) == set()
    elif name in APP_NAMES:
        assert open_to(ruleset, APP_PORT) == fronts, "the app port is open to the fronts' addresses only"
        assert open_to(ruleset, 80) == open_to(ruleset, 443) == set()
    else:  # a spare: SSH, and the node exporter's port for the monitor node
        assert {p for a in port_accepts(ruleset) if a.proto == "tcp" for p in a.ports} == {22, NODE_EXPORTER}
    # The exporters' ports (role exporters) to the monitor node only (role monitor).
    assert open_to(ruleset, NODE_EXPORTER) == {address("mon1")}
    assert open_to(ruleset, NGINX_EXPORTER) == ({address("mon1")} if name in FRONT_NAMES else set())
    assert open_to(ruleset, APP_METRICS) == ({address("mon1")} if name in APP_NAMES else set())
    host = node(name)
    assert host.service("nftables").is_enabled, "the ruleset is loaded again at boot"
    boot = host.file("/etc/nftables.conf").content_string
    assert not re.search(r"^\s*flush ruleset", boot, re.M), "the tables of other tools stay at boot"
    assert host.run(f"systemctl is-active {ROLLBACK_TIMER}").stdout.strip() != "active", "no switch left armed"


# --- Refused rulesets: two runs of the role on front1 -----------------------------------


@pytest.fixture
def run_firewall(tmp_path: Path):
    """Run role firewall on front1 alone with -e overrides (JSON)."""
    playbook = tmp_path / "firewall.yml"
    playbook.write_text(
        "- name: Converge role firewall on front1\n"
        "  hosts: front1\n"
        "  become: true\n"
        "  gather_facts: false\n"
        "  roles: [firewall]\n"
    )
    inventory = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
    return lambda overrides: run_playbook(playbook, json.dumps(overrides), inventory=inventory)


def state(name: str) -> tuple[dict, str]:
    """The live table (with its rules' handles, which a reload would change) and the file in force."""
    return table(name), hashlib.sha256(node(name).file(RULES_FILE).content).hexdigest()


def still_reachable(name: str) -> None:
    ping = subprocess.run(
        ["ansible", "-i", os.environ["MOLECULE_INVENTORY_FILE"], name, "-m", "ansible.builtin.ping"],
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert ping.returncode == 0, ping.stdout + ping.stderr


def test_a_ruleset_nft_refuses_leaves_the_previous_one_active(run_firewall, browser: Browser) -> None:
    before = state("front1")
    # The shape of an IPv4 network, so validation lets it through, but no such prefix: nft -c says no.
    result = run_firewall({"firewall_extra_rules": [{"port": 9000, "sources": ["10.0.0.0/33"]}]})
    assert result.returncode != 0, result.stdout
    assert "nft -c refused the ruleset rendered for front1" in result.stdout
    assert "Prefix length 33 is invalid" in result.stdout
    assert "firewall_extra_rules[0]" in result.stdout, "nft's message shows the rule's comment, naming the variable"
    assert state("front1") == before, "the live table and the file in force are the previous ones"
    still_reachable("front1")
    assert browser.request(https_url("front1", "/healthz")).status == 200


def test_an_input_that_could_break_out_of_the_ruleset_is_refused_naming_the_variable(run_firewall) -> None:
    before = state("front1")
    result = run_firewall({"firewall_ssh_sources": ["10.0.0.0/8; accept"]})
    assert result.returncode != 0, result.stdout
    assert "firewall_ssh_sources[0] must be an IPv4 or IPv6 address or network" in result.stdout
    assert "10.0.0.0/8; accept" in result.stdout
    assert "Load the new ruleset" not in result.stdout, "the run stopped before any change"
    assert state("front1") == before
    still_reachable("front1")
