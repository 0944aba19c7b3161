"""The running lab, as scripts/lab.py describes it in .lab/lab.json, and commands on its nodes."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB_FILE = ROOT / ".lab" / "lab.json"


class NoLab(Exception):
    """The lab is missing or not running; the message says which."""


@dataclass(frozen=True)
class Node:
    name: str
    group: str
    container: str
    address: str


@dataclass(frozen=True)
class Lab:
    site_name: str
    ca_file: Path
    inventory: Path
    nodes: tuple[Node, ...]
    size: dict[str, int]
    state: str
    secrets: tuple[str, ...] = ()  # what `make lab` prints (the demo password): kept out of the bench's logs

    @property
    def fronts(self) -> list[Node]:
        return [n for n in self.nodes if n.group == "fronts"]

    @property
    def apps(self) -> list[Node]:
        return [n for n in self.nodes if n.group == "apps"]


def load_lab(path: Path | None = None) -> Lab:
    """Read lab.json; NoLab when it is missing, half made, or a container is not running."""
    path = path or LAB_FILE
    if not path.is_file():
        raise NoLab(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} is missing")
    data = json.loads(path.read_text())
    if data.get("state") == "converging":
        raise NoLab("the lab is 'converging', not up")
    lab = Lab(
        site_name=data["site_name"],
        ca_file=Path(data["ca_file"]),
        inventory=Path(data["inventory"]),
        nodes=tuple(Node(n["name"], n["group"], n["container"], n["address"]) for n in data["nodes"]),
        size=dict(data["size"]),
        state=str(data.get("state", "up")),
        secrets=tuple(str(data[k]) for k in ("password",) if data.get(k)),
    )
    if not lab.fronts or not lab.apps:
        raise NoLab("lab.json names no fronts or no app nodes")
    stopped = [n.container for n in lab.nodes if not container_running(n.container)]
    if stopped:
        raise NoLab(f"not running: {', '.join(stopped)}")
    return lab


def container_running(container: str) -> bool:
    result = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Running}}", container],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return result.returncode == 0 and result.stdout.strip() == "true"


def node_run(
    node: Node, argv: list[str], *, timeout: float = 60, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run argv as root on a node (docker exec: the lab's nodes are this machine's containers)."""
    result = subprocess.run(
        ["docker", "exec", *(["-i"] if stdin is not None else []), node.container, *argv],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        output = (result.stderr or result.stdout).strip()[-500:]
        raise RuntimeError(f"{node.name}: {' '.join(argv[:3])} exited {result.returncode}: {output}")
    return result


def unit_properties(node: Node, unit: str, names: list[str]) -> dict[str, str]:
    """systemctl show -p NAME... of a unit on a node, as a dict."""
    out = node_run(node, ["systemctl", "show", unit, *[f"--property={n}" for n in names]]).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
