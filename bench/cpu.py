"""CPU time a systemd unit has used, read on its node: CPUUsageNSec, else the cgroup's files."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .lab import Node, node_run

# Runs on the node (python3 is there for Ansible). For each unit, the first of: systemd's
# CPUUsageNSec (CPUAccounting=yes and a cpuacct controller systemd can use); usage_usec of the
# unit's cgroup in the unified hierarchy (cgroup v2, or v1 "hybrid": every unit has one there,
# whatever its accounting settings); cpuacct.usage of its v1 cgroup; the user+system time of
# its processes now (misses processes that exited: a last resort, named as such).
PROBE = r"""
import json, os, subprocess, sys
def cgroup_file(cg, *names):
    for name in names:
        if os.path.isfile(f"/sys/fs/cgroup/{name}".replace("CG", cg)):
            return f"/sys/fs/cgroup/{name}".replace("CG", cg)
def read_stat(path, key):
    with open(path) as f:
        return int(dict(line.split() for line in f if line.strip())[key])
out = {}
for unit in sys.argv[1:]:
    props = dict(l.split("=", 1) for l in subprocess.run(
        ["systemctl", "show", unit, "-p", "CPUUsageNSec", "-p", "ControlGroup", "-p", "ActiveState"],
        capture_output=True, text=True).stdout.splitlines() if "=" in l)
    cg = props.get("ControlGroup", "")
    usage = props.get("CPUUsageNSec", "")
    v2 = cgroup_file(cg, "unifiedCG/cpu.stat", "CG/cpu.stat") if cg else None
    v1 = cgroup_file(cg, "cpu,cpuacctCG/cpuacct.usage", "cpuacctCG/cpuacct.usage") if cg else None
    if props.get("ActiveState") != "active" or not cg:
        out[unit] = {"ns": None, "source": "inactive"}
    elif usage.isdigit():
        out[unit] = {"ns": int(usage), "source": "CPUUsageNSec"}
    elif v2 and "usage_usec" in open(v2).read():
        out[unit] = {"ns": read_stat(v2, "usage_usec") * 1000, "source": "cgroup v2 cpu.stat usage_usec"}
    elif v1:
        with open(v1) as f:
            out[unit] = {"ns": int(f.read()), "source": "cgroup v1 cpuacct.usage"}
    else:
        tick, total = os.sysconf("SC_CLK_TCK"), 0
        with open(f"/sys/fs/cgroup/systemd{cg}/cgroup.procs") as f:
            pids = f.read().split()
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])
        out[unit] = {"ns": total * 1_000_000_000 // tick, "source": "/proc stat of the live processes"}
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Reading:
    ns: int | None
    source: str


def read_cpu(node: Node, units: list[str]) -> dict[str, Reading]:
    """One reading of each unit's CPU counter on a node."""
    out = node_run(node, ["python3", "-c", PROBE, *units]).stdout
    return {unit: Reading(value["ns"], value["source"]) for unit, value in json.loads(out).items()}
