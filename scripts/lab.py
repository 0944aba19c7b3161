#!/usr/bin/env python3
"""The lab: Debian "VMs" (systemd containers with sshd) reached over real SSH.

    scripts/lab.py up [--apps N] [--fronts M] [--monitor 0|1]
                           start front1..frontM, app1..appN and the monitor node mon1
                           (default: the lab's current size, else 2, 2 and 1), make each
                           ready for Ansible (scripts/node-ready: user ops with sudo), write
                           inventory/lab/, converge playbooks/site.yml
                           over SSH, then remove the nodes that are no longer in the inventory;
                           print and write .lab/lab.json
    scripts/lab.py down    remove everything `up` made
    scripts/lab.py status  print .lab/lab.json

Needs a Docker engine (scripts/ensure-docker) and the node image (scripts/node-image). The node
container itself is described once, in molecule/shared/vars/node.yml.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import alert_receiver  # noqa: E402
from make_secrets import DEMO_USER, make_secrets, secret_vars  # noqa: E402

LAB_DIR = ROOT / ".lab"
INVENTORY_DIR = ROOT / "inventory" / "lab"
KEY_FILE = LAB_DIR / "id_ed25519"
KNOWN_HOSTS = LAB_DIR / "known_hosts"
SUMMARY_FILE = LAB_DIR / "lab.json"
SECRETS_DIR = LAB_DIR / "secrets"
# The lab's project CA, outside the project tree like role tls's default tls_ca_dir (the same
# place for an inventory named lab): $XDG_DATA_HOME/flask-stack/tls/lab.
DATA_HOME = Path(os.environ.get("XDG_DATA_HOME") or "~/.local/share").expanduser()
CA_DIR = (DATA_HOME if DATA_HOME.is_absolute() else Path("~/.local/share").expanduser()) / "flask-stack" / "tls" / "lab"
CA_FILE = CA_DIR / "ca.crt"
NODE_FILE = ROOT / "molecule" / "shared" / "vars" / "node.yml"
NODE_READY = ROOT / "scripts" / "node-ready"
FACT_CACHE = ROOT / ".cache" / "facts"
SSH_CONTROL_DIR = Path("~/.ansible/cp").expanduser()  # ansible.cfg control_path_dir
SITE_NAME = os.environ.get("LAB_SITE_NAME", "flask-stack.localhost")
NETWORK = os.environ.get("LAB_NETWORK", "flask-lab")
SUBNET_PREFIX = os.environ.get("LAB_SUBNET_PREFIX", "172.30.77")
PORT_BASE = int(os.environ.get("LAB_PORT_BASE", "8080"))
HTTPS_OFFSET = 363  # front1: http 8080, https 8443
LABEL = "flask-stack.lab=1"
DEFAULT_APPS = 2
DEFAULT_FRONTS = 2
DEFAULT_MONITOR = 1
# Fronts get .11 to .20, app nodes .21 to .254; the fronts' floating address (role vip) is .10,
# the monitor node (roles monitor and exporters) .5.
VIP_HOST = 10
MONITOR_HOST = 5
MAX_FRONTS = 10
MAX_APPS = 234


@functools.cache
def node_spec(path: Path = NODE_FILE) -> dict:
    """molecule/shared/vars/node.yml: the image, container settings, boot timeout and ops user."""
    import yaml  # from .venv; `down` works without it

    return yaml.safe_load(path.read_text())


def node_image() -> str:
    return os.environ.get("NODE_IMAGE") or node_spec()["node_image"]


def ops_user() -> str:
    return node_spec()["node_user"]


def container_flags(container: dict) -> list[str]:
    """`docker run` flags for node.yml's node_container (everything but the command)."""
    flags: list[str] = []
    for cap in container.get("capabilities", []):
        flags += ["--cap-add", cap]
    for opt in container.get("security_opts", []):
        flags += ["--security-opt", opt]
    if container.get("cgroupns_mode"):
        flags.append(f"--cgroupns={container['cgroupns_mode']}")
    for volume in container.get("volumes", []):
        flags += ["-v", volume]
    for tmpfs in container.get("tmpfs", []):
        flags += ["--tmpfs", tmpfs]
    if container.get("stop_signal"):
        flags += ["--stop-signal", container["stop_signal"]]
    return flags


@dataclass(frozen=True)
class Node:
    """One lab node: its inventory name, group, address and loopback ports."""

    name: str
    group: str
    address: str
    http_port: int | None = None
    https_port: int | None = None

    @property
    def container(self) -> str:
        return f"lab-{self.name}"


class SizeError(ValueError):
    """A lab size the topology cannot hold."""


def check_size(apps: int, fronts: int, monitor: int = 0) -> None:
    if monitor not in (0, 1):
        raise SizeError(f"MONITOR (--monitor) must be 0 or 1, got {monitor}")
    if fronts < 2:
        raise SizeError(f"FRONTS (--fronts) must be at least 2, got {fronts}: the lab load-balances over two fronts")
    if fronts > MAX_FRONTS:
        raise SizeError(f"FRONTS (--fronts) must be at most {MAX_FRONTS}, got {fronts}")
    if apps < 1:
        raise SizeError(f"APPS (--apps) must be at least 1, got {apps}")
    if apps > MAX_APPS:
        raise SizeError(f"APPS (--apps) must be at most {MAX_APPS}, got {apps}")


def lab_nodes(
    prefix: str = SUBNET_PREFIX,
    port_base: int = PORT_BASE,
    apps: int = DEFAULT_APPS,
    fronts: int = DEFAULT_FRONTS,
    monitor: int = 0,
) -> list[Node]:
    """The lab's topology: fronts published on loopback (.11 up), app nodes (.21 up), the monitor node (.5)."""
    check_size(apps, fronts, monitor)
    nodes = [
        Node(f"front{k}", "fronts", f"{prefix}.{10 + k}", port_base + k - 1, port_base + HTTPS_OFFSET + k - 1)
        for k in range(1, fronts + 1)
    ]
    nodes += [Node(f"app{k}", "apps", f"{prefix}.{20 + k}") for k in range(1, apps + 1)]
    nodes += [Node("mon1", "monitor", f"{prefix}.{MONITOR_HOST}")] if monitor else []
    return nodes


def lab_vip(prefix: str = SUBNET_PREFIX) -> str:
    """The fronts' floating address (role vip's vip_address): in the lab's /24, below the fronts."""
    return f"{prefix}.{VIP_HOST}"


def vip_curl(vip: str, ca_file: Path = CA_FILE, site: str = SITE_NAME) -> str:
    """The curl line that reaches the site through the floating address, verified with the CA file."""
    return f"curl --cacert {ca_file} --resolve {site}:443:{vip} https://{site}/"


def remembered_size(summary_file: Path = SUMMARY_FILE) -> dict[str, int]:
    """The size of the lab as the last `up` left it (defaults when there is none)."""
    try:
        size = json.loads(summary_file.read_text())["size"]
        return {
            "apps": int(size["apps"]),
            "fronts": int(size["fronts"]),
            "monitor": int(size.get("monitor", DEFAULT_MONITOR)),
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {"apps": DEFAULT_APPS, "fronts": DEFAULT_FRONTS, "monitor": DEFAULT_MONITOR}


def wanted_size(
    apps: int | None, fronts: int | None, summary_file: Path = SUMMARY_FILE, monitor: int | None = None
) -> dict[str, int]:
    """The size asked for; what is not asked for stays as it is."""
    size = remembered_size(summary_file)
    if apps is not None:
        size["apps"] = apps
    if fronts is not None:
        size["fronts"] = fronts
    if monitor is not None:
        size["monitor"] = monitor
    check_size(size["apps"], size["fronts"], size["monitor"])
    return size


def run(*args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, text=True, capture_output=capture)


def docker_ok(*args: str) -> bool:
    return run("docker", *args, check=False).returncode == 0


def render_inventory(nodes: list[Node]) -> str:
    """inventory/lab/hosts.yml: groups fronts and apps, reached over real SSH as the ops user."""
    groups: dict[str, dict[str, dict[str, object]]] = {}
    for node in nodes:
        groups.setdefault(node.group, {})[node.name] = {"ansible_host": node.address}
    # IdentitiesOnly: sshd allows 3 authentication tries (role ssh); an agent with more keys would use them up.
    ssh_args = f"-o UserKnownHostsFile={KNOWN_HOSTS} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "ssh",
                "ansible_user": ops_user(),
                "ansible_ssh_private_key_file": str(KEY_FILE),
                "ansible_ssh_common_args": ssh_args,
            },
            "children": {group: {"hosts": hosts} for group, hosts in groups.items()},
        }
    }
    header = "# Generated by scripts/lab.py; `make lab-down` removes it.\n"
    return header + "---\n" + json.dumps(inventory, indent=2) + "\n"


def render_group_vars() -> str:
    """inventory/lab/group_vars/all.yml: the lab's site name, CA and secrets (read from .lab/ at run time)."""
    variables = {
        "tls_site_names": [SITE_NAME],
        "tls_ca_dir": str(CA_DIR),
        # The lab shows which node answered (X-Served-By, /healthz); real inventories do not.
        "app_expose_hostname": True,
        # Role vip on the fronts (keepalived); role firewall lets VRRP in between them.
        "vip_address": lab_vip(),
        **secret_vars(SECRETS_DIR),
    }
    header = "# Generated by scripts/lab.py. Secrets stay in .lab/secrets/ (git-ignored).\n"
    return header + "---\n" + json.dumps(variables, indent=2) + "\n"


def render_monitor_vars(ca_file: Path = CA_FILE) -> str:
    """inventory/lab/group_vars/monitor.yml: role ssh lets the monitor node forward ports, for the
    tunnel to Prometheus and Alertmanager (they listen on its loopback); the probes check the
    site's certificate against the lab's CA; Alertmanager posts to the lab's receiver there."""
    header = "# Generated by scripts/lab.py.\n"
    variables = {
        "ssh_allow_tcp_forwarding": True,
        "monitor_probe_ca_file": str(ca_file),
        "monitor_alert_webhook_url": alert_receiver.URL,
    }
    return header + "---\n" + json.dumps(variables, indent=2) + "\n"


def summary(nodes: list[Node], state: str = "up") -> dict[str, object]:
    """The machine-readable description of the lab (.lab/lab.json)."""
    password_file = SECRETS_DIR / "demo_password"
    user = ops_user()
    return {
        "state": state,
        "size": {
            "apps": sum(n.group == "apps" for n in nodes),
            "fronts": sum(n.group == "fronts" for n in nodes),
            "monitor": sum(n.group == "monitor" for n in nodes),
        },
        "fronts": [
            {
                "name": n.name,
                "https_url": f"https://{SITE_NAME}:{n.https_port}/",
                "http_url": f"http://{SITE_NAME}:{n.http_port}/",
            }
            for n in nodes
            if n.group == "fronts"
        ],
        "apps": [{"name": n.name, "address": n.address} for n in nodes if n.group == "apps"],
        # Prometheus and Alertmanager listen on the monitor node's loopback: reach them through SSH.
        "monitor": next(
            (
                {
                    "name": n.name,
                    "address": n.address,
                    "prometheus_url": "http://127.0.0.1:9090/",
                    "tunnel": f"ssh -i {KEY_FILE} -o IdentitiesOnly=yes -o UserKnownHostsFile={KNOWN_HOSTS} "
                    f"-N -L 9090:127.0.0.1:9090 -L 9093:127.0.0.1:9093 {user}@{n.address}",
                    # What Alertmanager posted to the lab's receiver (scripts/alert_receiver.py) on the node.
                    "alerts_received": f"ssh -i {KEY_FILE} -o IdentitiesOnly=yes -o UserKnownHostsFile={KNOWN_HOSTS} "
                    f"{user}@{n.address} curl -s http://127.0.0.1:{alert_receiver.PORT}/",
                }
                for n in nodes
                if n.group == "monitor"
            ),
            None,
        ),
        # Port 443 of the floating address itself, from this machine (the lab's network is a local bridge).
        "vip": {"address": lab_vip(), "https_url": f"https://{SITE_NAME}/", "curl": vip_curl(lab_vip())},
        "ca_file": str(CA_FILE),
        "username": DEMO_USER,
        "password": password_file.read_text().strip() if password_file.exists() else None,
        "site_name": SITE_NAME,
        "inventory": str(INVENTORY_DIR / "hosts.yml"),
        "ssh_user": user,
        "ssh_key": str(KEY_FILE),
        "known_hosts": str(KNOWN_HOSTS),
        "nodes": [
            {
                "name": n.name,
                "group": n.group,
                "container": n.container,
                "address": n.address,
                "ssh": f"ssh -i {KEY_FILE} -o IdentitiesOnly=yes -o UserKnownHostsFile={KNOWN_HOSTS} "
                f"{user}@{n.address}",
            }
            for n in nodes
        ],
    }


def write_summary(data: dict[str, object]) -> None:
    SUMMARY_FILE.touch(mode=0o600)
    SUMMARY_FILE.write_text(json.dumps(data, indent=2) + "\n")


def ensure_key() -> None:
    LAB_DIR.mkdir(mode=0o700, exist_ok=True)
    if not KEY_FILE.exists():
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "flask-stack-lab", "-f", str(KEY_FILE))


def ensure_network() -> None:
    if not docker_ok("network", "inspect", NETWORK):
        run("docker", "network", "create", "--label", LABEL,
            "--subnet", f"{SUBNET_PREFIX}.0/24", NETWORK)  # fmt: skip


def lab_containers() -> list[str]:
    """The names of every container of the lab, running or not."""
    out = run("docker", "ps", "-a", "--filter", f"label={LABEL}", "--format", "{{.Names}}", check=False).stdout
    return sorted(out.split())


def ensure_node(node: Node) -> bool:
    """Start the node's container unless it runs already. True when it was created."""
    state = run("docker", "inspect", "-f", "{{.State.Running}}", node.container, check=False)
    if state.returncode == 0 and state.stdout.strip() == "true":
        return False
    if state.returncode == 0:
        run("docker", "rm", "-f", node.container)
    # A new container is a new machine: forget what the controller kept about an old one.
    forget(node.name, node.address)
    ports: list[str] = []
    if node.http_port and node.https_port:
        ports = ["-p", f"127.0.0.1:{node.http_port}:80", "-p", f"127.0.0.1:{node.https_port}:443"]
    container = node_spec()["node_container"]
    run("docker", "run", "-d", "--name", node.container, "--hostname", node.name,
        "--label", LABEL, "--network", NETWORK, "--ip", node.address,
        *container_flags(container), *ports, node_image(), *container["command"].split())  # fmt: skip
    return True


def make_ready(nodes: list[Node]) -> None:
    """scripts/node-ready for every node at once: booted, sshd up, the ops user with our key and sudo."""
    public_key = str(KEY_FILE.with_suffix(".pub"))
    procs = [
        (node, subprocess.Popen([str(NODE_READY), node.container, public_key], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True))
        for node in nodes
    ]  # fmt: skip
    failed = []
    for node, proc in procs:
        out, _ = proc.communicate()
        print(f"  {out.strip()}" if out.strip() else f"  node-ready: {node.container}: exit {proc.returncode}")
        if proc.returncode != 0:
            failed.append(node.name)
    if failed:
        sys.exit(f"lab: {', '.join(failed)} not ready (see above); `make lab-down` removes the lab")


def scan_host_keys(nodes: list[Node]) -> None:
    """Pin each node's host key (taken from inside the container, not over the network)."""
    lines = []
    for node in nodes:
        key = run("docker", "exec", node.container, "cat", "/etc/ssh/ssh_host_ed25519_key.pub").stdout.split()
        lines.append(f"{node.address} {key[0]} {key[1]}")
    KNOWN_HOSTS.write_text("\n".join(lines) + "\n")


def converge() -> tuple[int, bool]:
    """Run playbooks/site.yml over SSH, showing its output. Its exit code, and whether it changed something."""
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        str(INVENTORY_DIR),
        str(ROOT / "playbooks" / "site.yml"),
    ]
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    changed = False
    with subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        in_recap = False
        for line in proc.stdout:
            print(line, end="", flush=True)
            in_recap = in_recap or line.startswith("PLAY RECAP")
            if in_recap and " changed=" in line and " changed=0 " not in line:
                changed = True
    return proc.returncode, changed


def close_ssh_master(address: str) -> None:
    """End Ansible's persistent SSH connection to ADDRESS, so a new node there is not reached through it."""
    for port in ("None", "22"):  # ansible's ssh plugin hashes host-port-user into the control path
        digest = hashlib.sha1(f"{address}-{port}-{ops_user()}".encode()).hexdigest()[:10]
        path = SSH_CONTROL_DIR / digest
        if path.exists():
            run("ssh", "-o", f"ControlPath={path}", "-O", "exit", address, check=False)


def forget(name: str, address: str | None) -> None:
    """What the controller kept about a node that is gone: cached facts, a persistent SSH connection."""
    # ansible-core names the cache file after the host, with a schema prefix since 2.19 (s1_app3).
    for cached in FACT_CACHE.glob(f"*{name}"):
        if re.fullmatch(rf"(s\d+_)?{re.escape(name)}", cached.name):
            cached.unlink(missing_ok=True)
    if address:
        close_ssh_master(address)


def container_address(container: str) -> str | None:
    out = run("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", container,
              check=False).stdout.split()  # fmt: skip
    return out[0] if out else None


def remove_nodes(containers: list[str]) -> None:
    """Delete containers that are no longer in the inventory, and what the controller kept about them."""
    for container in containers:
        address = container_address(container)
        run("docker", "rm", "-f", container)
        forget(container.removeprefix("lab-"), address)


def print_summary(data: dict) -> None:
    print("\nThe lab is up. Sign in with a browser or curl:")
    for front in data["fronts"]:
        print(f"  {front['name']}: {front['https_url']}   ({front['http_url']} redirects to https)")
    vip = data["vip"]
    print(f"  vip:      {vip['https_url']} on {vip['address']}, held by one front (keepalived), from this machine:")
    print(f"            {vip['curl']}")
    print(f"  apps:     {', '.join(a['name'] for a in data['apps'])}")
    if data.get("monitor"):
        monitor = data["monitor"]
        print(f"  monitor:  {monitor['name']} (Prometheus, Alertmanager); open {monitor['prometheus_url']} after:")
        print(f"            {monitor['tunnel']}")
        print(f"            alerts Alertmanager posted to the lab's receiver: {monitor['alerts_received']}")
    print(f"  CA file:  {data['ca_file']}")
    print(f"  login:    {data['username']} / {data['password']}")
    print(f"  ssh:      {data['nodes'][0]['ssh']}   (user {data['ssh_user']}, passwordless sudo)")
    print(f"  try:      curl --cacert {data['ca_file']} {data['fronts'][0]['https_url']}")
    print(f"  summary:  {SUMMARY_FILE}   (make lab-down removes the lab)")


def start_alert_receiver(nodes: list[Node]) -> None:
    """The webhook receiver Alertmanager posts to (monitor_alert_webhook_url), on the monitor node."""
    source = Path(alert_receiver.__file__).read_text()
    for node in nodes:
        if node.group == "monitor":
            run("docker", "exec", node.container, "sh", "-c", alert_receiver.start_command(source))


def up(args: argparse.Namespace) -> None:
    try:
        size = wanted_size(args.apps, args.fronts, monitor=args.monitor)
    except SizeError as error:
        sys.exit(f"lab: {error}")
    if not docker_ok("info"):
        sys.exit("lab: no Docker engine answers; run scripts/ensure-docker (or `make lab`)")
    if not docker_ok("image", "inspect", node_image()):
        sys.exit(f"lab: image {node_image()} is missing; run scripts/node-image (or `make lab`)")
    nodes = lab_nodes(apps=size["apps"], fronts=size["fronts"], monitor=size["monitor"])
    wanted = {n.container for n in nodes}
    stale = [c for c in lab_containers() if c not in wanted]
    ensure_key()
    ensure_network()
    created = [n.name for n in nodes if ensure_node(n)]
    print(f"lab: {size['fronts']} fronts, {size['apps']} app nodes, {size['monitor']} monitor node; "
          f"{'created: ' + ', '.join(created) if created else 'no node created'}")  # fmt: skip
    make_ready(nodes)
    start_alert_receiver(nodes)
    scan_host_keys(nodes)
    make_secrets(SECRETS_DIR)
    shutil.rmtree(LAB_DIR / "tls", ignore_errors=True)  # an earlier version's lab CA, its key inside the project
    (INVENTORY_DIR / "group_vars").mkdir(parents=True, exist_ok=True)
    (INVENTORY_DIR / "hosts.yml").write_text(render_inventory(nodes))
    (INVENTORY_DIR / "group_vars" / "all.yml").write_text(render_group_vars())
    (INVENTORY_DIR / "group_vars" / "monitor.yml").write_text(render_monitor_vars())
    for node in nodes:
        print(f"  {node.name:<7} {node.group:<7} {node.address}")
    if args.no_converge:
        write_summary(summary(nodes, "not converged"))
        if stale:
            print(f"lab: kept {', '.join(stale)} until the next converge (the fronts may still point at them)")
        return
    # The size is remembered before the converge, so a plain `make lab` after a failure tries it again.
    write_summary(summary(nodes, "converging"))
    code, changed = converge()
    if code != 0:
        write_summary(summary(nodes, "converge failed"))
        kept = f"; {', '.join(stale)} not removed yet" if stale else ""
        sys.exit(
            f"lab: playbooks/site.yml failed (exit {code}){kept}; "
            "the nodes stay up for a look, `make lab` tries again, `make lab-down` removes them"
        )
    # Only now that every front's upstream lists just the inventory's app nodes.
    remove_nodes(stale)
    data = summary(nodes)
    write_summary(data)
    if stale:
        print(f"\nlab: removed {', '.join(stale)} (no longer in the inventory)")
    print(
        "\nlab: "
        + ("converged; changes were made" if changed or created or stale else "already converged: nothing changed")
    )
    print_summary(data)


def down(_: argparse.Namespace) -> None:
    ids = run("docker", "ps", "-aq", "--filter", f"label={LABEL}", check=False).stdout.split()
    if ids:
        run("docker", "rm", "-f", *ids)
    if docker_ok("network", "inspect", NETWORK):
        run("docker", "network", "rm", NETWORK)
    shutil.rmtree(INVENTORY_DIR, ignore_errors=True)
    shutil.rmtree(LAB_DIR, ignore_errors=True)
    shutil.rmtree(CA_DIR, ignore_errors=True)
    shutil.rmtree(FACT_CACHE, ignore_errors=True)
    print(f"lab: removed {len(ids)} containers, the network, inventory/lab/, .lab/ and the lab's CA {CA_DIR}")


def status(_: argparse.Namespace) -> None:
    if not SUMMARY_FILE.exists():
        sys.exit("lab: not up (run `make lab`)")
    print(SUMMARY_FILE.read_text(), end="")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lab", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up")
    up_parser.add_argument("--apps", type=int, help=f"app nodes, at least 1 (default: as now, else {DEFAULT_APPS})")
    up_parser.add_argument(
        "--fronts", type=int, help=f"front nodes, at least 2 (default: as now, else {DEFAULT_FRONTS})"
    )
    up_parser.add_argument(
        "--monitor", type=int, help=f"monitor node, 0 or 1 (default: as now, else {DEFAULT_MONITOR})"
    )
    up_parser.add_argument("--no-converge", action="store_true", help="only start the nodes and write the inventory")
    up_parser.set_defaults(func=up)
    for name, func in (("down", down), ("status", status)):
        sub.add_parser(name).set_defaults(func=func)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
