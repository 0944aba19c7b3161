"""Helpers the Testinfra tests of every scenario share (each conftest puts this folder on sys.path)."""

from __future__ import annotations

import functools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


def ansible_env() -> dict[str, str]:
    """The environment of an ansible-playbook run from a test: the project's roles and plugins, plain output."""
    return dict(
        os.environ,
        ANSIBLE_ROLES_PATH=str(PROJECT / "roles"),
        ANSIBLE_FILTER_PLUGINS=str(PROJECT / "plugins" / "filter"),
        ANSIBLE_ACTION_PLUGINS=str(PROJECT / "plugins" / "action"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_CALLBACK_RESULT_FORMAT="json",
    )


def run_playbook(playbook: Path, *extra_vars: str, inventory: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a playbook against the scenario's nodes with -e overrides; output is plain text (stdout + stderr)."""
    env = ansible_env()
    cmd = ["ansible-playbook", "-i", inventory or os.environ["MOLECULE_INVENTORY_FILE"], str(playbook)]
    for var in extra_vars:
        cmd += ["-e", var]
    return subprocess.run(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900, check=False
    )


def converge_fixture(scenario: Path, playbook: str = "converge.yml"):
    """A module fixture `run_converge(*extra_vars)` that runs the scenario's converge.yml (or the
    part of it named `playbook`) again."""

    @pytest.fixture(scope="module")
    def run_converge():
        return functools.partial(run_playbook, scenario / playbook)

    return run_converge


@dataclass(frozen=True)
class CgroupLimits:
    """Limits the kernel enforces on a unit, read from its cgroup files (v1 or v2)."""

    memory_max: int
    cpu_quota: float  # CPUs: 0.5 = half a CPU
    tasks_max: str
    cpu_period_us: int  # the window the quota is counted in


def cgroup_limits(host, unit: str) -> CgroupLimits:
    group = host.check_output(f"systemctl show -p ControlGroup --value {unit}")

    def read(path: str) -> str:
        return host.check_output(f"cat /sys/fs/cgroup/{path}")

    if host.file("/sys/fs/cgroup/memory").is_directory:  # cgroup v1 (the lab's containers)
        quota, period = int(read(f"cpu{group}/cpu.cfs_quota_us")), int(read(f"cpu{group}/cpu.cfs_period_us"))
        return CgroupLimits(
            int(read(f"memory{group}/memory.limit_in_bytes")), quota / period, read(f"pids{group}/pids.max"), period
        )
    quota, period = (int(x) for x in read(f"{group.lstrip('/')}/cpu.max").split())
    return CgroupLimits(
        int(read(f"{group.lstrip('/')}/memory.max")), quota / period, read(f"{group.lstrip('/')}/pids.max"), period
    )
