"""The lab's topology, inventory and summary, as scripts/lab.py writes them."""

import json
import subprocess

import yaml

import lab
from conftest import ROOT


def test_topology_has_two_fronts_and_two_apps_with_distinct_addresses() -> None:
    nodes = lab.lab_nodes("10.9.8", 9000)
    assert [n.name for n in nodes if n.group == "fronts"] == ["front1", "front2"]
    assert [n.name for n in nodes if n.group == "apps"] == ["app1", "app2"]
    assert len({n.address for n in nodes}) == 4
    ports = [p for n in nodes for p in (n.http_port, n.https_port) if p]
    assert len(ports) == len(set(ports)) == 4


def test_inventory_reaches_every_node_over_ssh_with_pinned_host_keys() -> None:
    inventory = yaml.safe_load(lab.render_inventory(lab.lab_nodes("10.9.8")))
    all_vars = inventory["all"]["vars"]
    assert all_vars["ansible_connection"] == "ssh"
    assert "StrictHostKeyChecking=yes" in all_vars["ansible_ssh_common_args"]
    assert str(lab.KNOWN_HOSTS) in all_vars["ansible_ssh_common_args"]
    children = inventory["all"]["children"]
    assert children["fronts"]["hosts"]["front1"]["ansible_host"] == "10.9.8.11"
    assert set(children["apps"]["hosts"]) == {"app1", "app2"}


def test_summary_is_json_with_absolute_paths() -> None:
    data = json.loads(json.dumps(lab.summary(lab.lab_nodes())))
    assert data["inventory"].startswith("/")
    assert {n["name"] for n in data["nodes"]} == {"front1", "front2", "app1", "app2"}


def test_scripts_explain_themselves() -> None:
    for script in ("ensure-docker", "node-image"):
        result = subprocess.run([ROOT / "scripts" / script, "--help"], capture_output=True, text=True, check=True)
        assert "Usage:" in result.stdout
    bad = subprocess.run([ROOT / "scripts" / "ensure-docker", "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "unknown argument" in bad.stderr
