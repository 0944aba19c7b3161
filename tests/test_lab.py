"""The lab's topology, inventory and summary, as scripts/lab.py writes them, and the one node description."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

import lab
from conftest import ROOT

NODE_YML = ROOT / "molecule" / "shared" / "vars" / "node.yml"


@pytest.mark.parametrize(("apps", "fronts"), [(1, 2), (2, 2), (3, 2), (5, 4), (lab.MAX_APPS, lab.MAX_FRONTS)])
def test_topology_of_any_size_has_distinct_names_addresses_and_ports(apps: int, fronts: int) -> None:
    nodes = lab.lab_nodes("10.9.8", 9000, apps=apps, fronts=fronts)
    assert [n.name for n in nodes if n.group == "fronts"] == [f"front{k}" for k in range(1, fronts + 1)]
    assert [n.name for n in nodes if n.group == "apps"] == [f"app{k}" for k in range(1, apps + 1)]
    assert len({n.name for n in nodes}) == len({n.container for n in nodes}) == apps + fronts
    assert len({n.address for n in nodes}) == apps + fronts
    assert all(n.address.startswith("10.9.8.") and 1 <= int(n.address.rsplit(".", 1)[1]) <= 254 for n in nodes)
    ports = [p for n in nodes for p in (n.http_port, n.https_port) if p]
    assert len(ports) == len(set(ports)) == 2 * fronts
    assert all(n.http_port is None for n in nodes if n.group == "apps")


def test_the_first_fronts_keep_their_addresses_and_ports() -> None:
    nodes = {n.name: n for n in lab.lab_nodes("10.9.8", 8080, apps=3, fronts=3)}
    assert (nodes["front1"].address, nodes["front1"].http_port, nodes["front1"].https_port) == ("10.9.8.11", 8080, 8443)
    assert (nodes["front2"].address, nodes["front2"].http_port, nodes["front2"].https_port) == ("10.9.8.12", 8081, 8444)
    assert (nodes["front3"].http_port, nodes["front3"].https_port) == (8082, 8445)
    assert [nodes[f"app{k}"].address for k in (1, 2, 3)] == ["10.9.8.21", "10.9.8.22", "10.9.8.23"]


@pytest.mark.parametrize(
    ("apps", "fronts", "variable"),
    [(2, 1, "FRONTS"), (2, 0, "FRONTS"), (0, 2, "APPS"), (-1, 2, "APPS"), (2, lab.MAX_FRONTS + 1, "FRONTS")],
)
def test_sizes_the_lab_cannot_hold_are_refused_naming_the_variable(apps: int, fronts: int, variable: str) -> None:
    with pytest.raises(lab.SizeError, match=variable):
        lab.lab_nodes(apps=apps, fronts=fronts)


def test_up_refuses_a_bad_size_before_touching_anything() -> None:
    with pytest.raises(SystemExit, match=r"FRONTS \(--fronts\) must be at least 2"):
        lab.main(["up", "--fronts", "1"])
    with pytest.raises(SystemExit, match=r"APPS \(--apps\) must be at least 1"):
        lab.main(["up", "--apps", "0"])


def test_inventory_reaches_every_node_over_ssh_as_the_ops_user_with_pinned_host_keys() -> None:
    inventory = yaml.safe_load(lab.render_inventory(lab.lab_nodes("10.9.8", apps=3)))
    all_vars = inventory["all"]["vars"]
    assert all_vars["ansible_connection"] == "ssh"
    assert all_vars["ansible_user"] == yaml.safe_load(NODE_YML.read_text())["node_user"] != "root"
    assert "ansible_become" not in all_vars  # the plays say where they need root
    assert "StrictHostKeyChecking=yes" in all_vars["ansible_ssh_common_args"]
    assert str(lab.KNOWN_HOSTS) in all_vars["ansible_ssh_common_args"]
    children = inventory["all"]["children"]
    assert children["fronts"]["hosts"]["front1"]["ansible_host"] == "10.9.8.11"
    assert set(children["apps"]["hosts"]) == {"app1", "app2", "app3"}


def test_group_vars_read_the_secrets_from_the_lab_directory_without_holding_them() -> None:
    group_vars = yaml.safe_load(lab.render_group_vars())
    key = group_vars["app_secret_environment"]["LOGINAPP_SECRET_KEY"]
    assert key.startswith("{{ lookup(") and str(lab.SECRETS_DIR / "secret_key") in key
    assert group_vars["app_config_files"][0]["name"] == "users"


def test_the_lab_ca_is_outside_the_project_where_tls_ca_dir_says() -> None:
    assert yaml.safe_load(lab.render_group_vars())["tls_ca_dir"] == str(lab.CA_DIR)
    assert lab.CA_DIR.is_absolute() and not lab.CA_DIR.is_relative_to(lab.ROOT)
    assert lab.summary(lab.lab_nodes(apps=2))["ca_file"] == str(lab.CA_DIR / "ca.crt")


def test_summary_is_json_with_absolute_paths_the_size_and_ssh_as_the_ops_user() -> None:
    data = json.loads(json.dumps(lab.summary(lab.lab_nodes(apps=3))))
    assert data["inventory"].startswith("/")
    assert data["size"] == {"apps": 3, "fronts": 2, "monitor": 0}
    assert [f["name"] for f in data["fronts"]] == ["front1", "front2"]
    assert [a["name"] for a in data["apps"]] == ["app1", "app2", "app3"]
    assert {n["name"] for n in data["nodes"]} == {"front1", "front2", "app1", "app2", "app3"}
    assert all(f" {data['ssh_user']}@" in n["ssh"] and "root@" not in n["ssh"] for n in data["nodes"])


@pytest.mark.parametrize(("apps", "fronts"), [(2, 2), (lab.MAX_APPS, lab.MAX_FRONTS)])
def test_the_floating_address_is_in_the_lab_network_and_no_node_has_it(apps: int, fronts: int) -> None:
    vip = lab.lab_vip("10.9.8")
    assert vip == "10.9.8.10"
    assert vip not in {n.address for n in lab.lab_nodes("10.9.8", 9000, apps=apps, fronts=fronts)}
    assert vip not in {"10.9.8.0", "10.9.8.1", "10.9.8.255"}  # network, Docker's gateway, broadcast


def test_group_vars_give_the_fronts_the_floating_address() -> None:
    assert yaml.safe_load(lab.render_group_vars())["vip_address"] == lab.lab_vip()


def test_summary_and_output_give_the_url_and_curl_line_through_the_floating_address(capsys) -> None:
    data = json.loads(json.dumps(lab.summary(lab.lab_nodes(apps=2))))
    vip = lab.lab_vip()
    curl = f"curl --cacert {lab.CA_FILE} --resolve {lab.SITE_NAME}:443:{vip} https://{lab.SITE_NAME}/"
    assert data["vip"] == {"address": vip, "https_url": f"https://{lab.SITE_NAME}/", "curl": curl}
    assert " -k" not in curl and "--insecure" not in curl
    lab.print_summary(data)
    out = capsys.readouterr().out
    assert f"vip:      https://{lab.SITE_NAME}/ on {vip}" in out
    assert f"\n            {curl}\n" in out


def test_the_size_is_remembered_and_only_what_is_asked_for_changes(tmp_path: Path) -> None:
    summary = tmp_path / "lab.json"
    assert lab.wanted_size(None, None, summary) == {"apps": 2, "fronts": 2, "monitor": 1}
    summary.write_text(json.dumps(lab.summary(lab.lab_nodes(apps=3, fronts=3))))
    assert lab.wanted_size(None, None, summary) == {"apps": 3, "fronts": 3, "monitor": 0}
    assert lab.wanted_size(2, None, summary) == {"apps": 2, "fronts": 3, "monitor": 0}
    assert lab.wanted_size(None, 2, summary, monitor=1) == {"apps": 3, "fronts": 2, "monitor": 1}
    with pytest.raises(lab.SizeError, match="APPS"):
        lab.wanted_size(0, None, summary)
    with pytest.raises(lab.SizeError, match=r"MONITOR \(--monitor\) must be 0 or 1"):
        lab.wanted_size(None, None, summary, monitor=2)
    summary.write_text("{not json")
    assert lab.wanted_size(None, None, summary) == {"apps": 2, "fronts": 2, "monitor": 1}


def test_the_monitor_node_has_its_group_address_and_an_ssh_tunnel_to_prometheus(capsys) -> None:
    nodes = lab.lab_nodes("10.9.8", 9000, apps=2, fronts=2, monitor=1)
    monitor = [n for n in nodes if n.group == "monitor"]
    assert [(n.name, n.address, n.http_port) for n in monitor] == [("mon1", "10.9.8.5", None)]
    assert len({n.address for n in nodes}) == len(nodes) and lab.lab_vip("10.9.8") not in {n.address for n in nodes}
    inventory = yaml.safe_load(lab.render_inventory(nodes))
    assert inventory["all"]["children"]["monitor"]["hosts"] == {"mon1": {"ansible_host": "10.9.8.5"}}
    data = json.loads(json.dumps(lab.summary(nodes)))
    assert data["size"] == {"apps": 2, "fronts": 2, "monitor": 1}
    assert data["monitor"]["tunnel"].endswith(
        f"-N -L 9090:127.0.0.1:9090 -L 9093:127.0.0.1:9093 {data['ssh_user']}@10.9.8.5"
    )
    lab.print_summary(data)
    assert "monitor:  mon1 (Prometheus, Alertmanager); open http://127.0.0.1:9090/ after:" in capsys.readouterr().out
    assert lab.summary(lab.lab_nodes(apps=2))["monitor"] is None
    # Role ssh lets the monitor node forward the tunnel's ports (it forwards none by default).
    assert yaml.safe_load(lab.render_monitor_vars(Path("/ca/ca.crt"))) == {
        "ssh_allow_tcp_forwarding": True,
        "monitor_probe_ca_file": "/ca/ca.crt",
        "monitor_alert_webhook_url": "http://127.0.0.1:9095/alerts",
    }


def test_node_yml_is_plain_data_the_lab_turns_into_docker_flags() -> None:
    spec = yaml.safe_load(NODE_YML.read_text())
    lab_values = {k: v for k, v in spec.items() if k.startswith("node_")}
    assert "{{" not in json.dumps(lab_values)
    flags = lab.container_flags(spec["node_container"])
    assert "--privileged" not in flags
    assert flags[flags.index("--cap-add") + 1] == "SYS_ADMIN"
    assert "--cgroupns=host" in flags
    assert flags[flags.index("--stop-signal") + 1] == "SIGRTMIN+3"
    assert flags.count("--tmpfs") == len(spec["node_container"]["tmpfs"])
    assert lab.node_spec() == spec


def test_node_image_and_molecule_name_the_same_image_and_user_as_node_yml() -> None:
    spec = yaml.safe_load(NODE_YML.read_text())
    name = subprocess.run(
        [ROOT / "scripts" / "node-image", "--print-name"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert name.stdout.strip() == spec["node_image"]
    molecule = yaml.safe_load((ROOT / ".config" / "molecule" / "config.yml").read_text())
    molecule_all = molecule["provisioner"]["inventory"]["group_vars"]["all"]
    assert molecule_all["ansible_user"] == spec["node_user"]
    assert molecule_all["ansible_become"] is True


def test_scripts_explain_themselves() -> None:
    for script in ("ensure-docker", "node-image", "node-ready"):
        result = subprocess.run([ROOT / "scripts" / script, "--help"], capture_output=True, text=True, check=True)
        assert "Usage:" in result.stdout
    for script in ("ensure-docker", "node-ready"):
        bad = subprocess.run([ROOT / "scripts" / script, "--bogus"], capture_output=True, text=True)
        assert bad.returncode == 2
        assert "unknown argument" in bad.stderr


def test_node_ready_refuses_bad_input_before_touching_a_container(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "node-ready"
    not_a_key = tmp_path / "key.pub"
    not_a_key.write_text("hello\n")
    for args, message in (
        ([], "expected CONTAINER"),
        (["--timeout", "soon", "c"], "whole seconds"),
        (["--user", "Root!", "c"], "not a valid user name"),
        (["c", str(not_a_key)], "not an SSH public key"),
        (["c", str(tmp_path / "missing.pub")], "cannot read"),
    ):
        result = subprocess.run([script, *args], capture_output=True, text=True)
        assert result.returncode == 2, args
        assert message in result.stderr


def test_a_removed_node_leaves_no_cached_facts_and_others_keep_theirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lab, "FACT_CACHE", tmp_path)
    for name in ("s1_app3", "app3", "s1_app1", "s1_dapp3", "s1_app33"):
        (tmp_path / name).write_text("{}")
    lab.forget("app3", None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s1_app1", "s1_app33", "s1_dapp3"]
