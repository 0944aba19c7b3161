"""The operations as a user types them, timed: N runs each, median, min and max."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .lab import ROOT, Lab, unit_properties
from .parse import recap_totals, task_headers, tasks_run
from .stats import median

RUN_TIMEOUT_S = 1200
# Another run holding the deploy lock (someone else's operation on the same lab) is waited
# out, by retrying at this interval, for at most this long; the refused tries are not timed.
LOCK_HELD = "deploy lock"
LOCK_RETRY_S = 20
LOCK_WAIT_S = 900
BUILD_DIR = ROOT / ".build" / "releases"
# The settings change: role app's MemoryMax, raised by this much from what the unit has now, then back.
SETTING = "app_memory_max"
SETTING_STEP_MIB = 64
SETTING_FALLBACK = "512M"  # role app's default, when the unit has no limit (infinity) to raise
MIB = 1024 * 1024


@dataclass
class Op:
    key: str
    title: str
    command: list[str]
    seconds: list[float] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    tasks: list[int] = field(default_factory=list)  # recap: ok + failed + skipped + rescued, all hosts
    headers: list[int] = field(default_factory=list)  # TASK and RUNNING HANDLER headers
    logs: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "title": self.title,
            "command": " ".join(self.command),
            "runs_s": [round(s, 1) for s in self.seconds],
            "median_s": round(median(self.seconds), 1) if self.seconds else None,
            "min_s": round(min(self.seconds), 1) if self.seconds else None,
            "max_s": round(max(self.seconds), 1) if self.seconds else None,
            "tasks": self.tasks,
            "task_headers": self.headers,
            "changed_tasks": self.changed,
            "logs": self.logs,
            "failed": "; ".join(self.failures) or None,
        }


def playbook(lab: Lab, name: str, *extra: str) -> list[str]:
    inventory = lab.inventory.parent.relative_to(ROOT) if lab.inventory.is_relative_to(ROOT) else lab.inventory
    return [".venv/bin/ansible-playbook", "-i", str(inventory), f"playbooks/{name}", *extra]


def lock_held(output: str) -> bool:
    """Did the run stop, before touching any node, because another run holds the deploy lock?"""
    return LOCK_HELD in output and "is held" in output and "no node was touched" in output


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "********")
    return text


def run_once(
    op: Op, command: list[str], log_dir: Path, say: Callable[[str], None], secrets: tuple[str, ...] = ()
) -> None:
    """One timed run (after waiting out another run's deploy lock); its output goes to a log
    file; a failure is recorded on the op."""
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    log = log_dir / f"{op.key}-{len(op.logs) + 1}.log"
    waited_until = time.monotonic() + LOCK_WAIT_S
    while True:
        start = time.monotonic()
        try:
            result = subprocess.run(
                command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=RUN_TIMEOUT_S
            )
            output, code = result.stdout + result.stderr, result.returncode
        except subprocess.TimeoutExpired as exc:
            output, code = f"{exc.stdout or ''}{exc.stderr or ''}\ntimed out after {RUN_TIMEOUT_S} s", -1
        elapsed = time.monotonic() - start
        if code == 0 or not lock_held(output) or time.monotonic() > waited_until:
            break
        say(f"  another run holds the deploy lock; trying again in {LOCK_RETRY_S} s")
        time.sleep(LOCK_RETRY_S)
    log.write_text(redact(f"$ {' '.join(command)}\n{output}", secrets))
    shown = str(log.relative_to(ROOT)) if log.is_relative_to(ROOT) else str(log)
    op.logs.append(shown)
    if code != 0:
        op.failures.append(f"run {len(op.logs)} exited {code} after {elapsed:.0f} s (log: {shown})")
        say(f"  FAILED: {op.failures[-1]}")
        return
    op.seconds.append(elapsed)
    totals = recap_totals(output)
    op.changed.append(totals["changed"])
    op.tasks.append(tasks_run(totals))
    op.headers.append(task_headers(output))


def other_memory_max(current: str) -> str:
    """An app_memory_max that differs from the unit's MemoryMax (systemctl show: bytes or
    "infinity"): SETTING_STEP_MIB more, in MiB."""
    text = current.strip()
    if not text.isdigit():
        return SETTING_FALLBACK
    return f"{int(text) // MIB + SETTING_STEP_MIB}M"


def current_memory_max(lab: Lab, app_name: str) -> str:
    """MemoryMax of the first app node's service, as systemd has it now."""
    return unit_properties(lab.apps[0], f"{app_name}.service", ["MemoryMax"]).get("MemoryMax", "")


def build_ops(lab: Lab, memory_max: str) -> list[Op]:
    """The rows, in the order they run: a settling site.yml, no-change site.yml, rolling restart,
    a settings change through site.yml and back, rolling deploys of a new release and back to a kept
    one, warm `make lab`."""
    return [
        Op("site-first", "site.yml first (converges what changed since the lab's last run)", playbook(lab, "site.yml")),
        Op("site", "no-change site.yml", playbook(lab, "site.yml")),
        Op("restart", "rolling restart (restart.yml)", playbook(lab, "restart.yml")),
        Op(
            "setting",
            f"settings change through site.yml (-e {SETTING}={memory_max})",
            playbook(lab, "site.yml", "-e", f"{SETTING}={memory_max}"),
        ),
        Op("setting-back", "the setting back through site.yml (the inventory's value)", playbook(lab, "site.yml")),
        Op("deploy", "rolling deploy of a new release (deploy.yml -e release=...)", playbook(lab, "deploy.yml")),
        Op("deploy-kept", "rolling deploy back to a kept release (deploy.yml)", playbook(lab, "deploy.yml")),
        Op("make-lab", "warm make lab", ["make", "lab"]),
    ]


def build_plan(ops: list[Op], runs: int, release_ids: list[str]) -> list[tuple[Op, list[str]]]:
    """Every run in order: the settling site.yml once, then `runs` of each row (the settings change
    and its way back taking turns; each deploy with a release of its own), the way back to the kept
    release once."""
    by_key = {op.key: op for op in ops}

    def times(key: str, count: int) -> list[tuple[Op, list[str]]]:
        return [(by_key[key], by_key[key].command)] * count

    plan = times("site-first", 1) + times("site", runs) + times("restart", runs)
    for _ in range(runs):
        plan += times("setting", 1) + times("setting-back", 1)
    plan += [(by_key["deploy"], [*by_key["deploy"].command, "-e", f"release={rid}"]) for rid in release_ids]
    return plan + times("deploy-kept", 1) + times("make-lab", runs)


def measure(lab: Lab, runs: int, log_dir: Path, say: Callable[[str], None], app_name: str = "loginapp") -> list[Op]:
    """site.yml once to settle the lab (a commit since its last run means a new release), then
    no-change site.yml, rolling restart, a settings change and back, rolling deploys of new releases
    (then back to the release of HEAD, so that the lab serves what site.yml would), warm `make lab`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    release_ids = [f"bench-{stamp}-{k}" for k in range(1, runs + 1)]
    current = current_memory_max(lab, app_name)
    memory_max = other_memory_max(current)
    say(f"settings change: {SETTING} {memory_max} (the unit has MemoryMax={current or '?'}), then back")
    ops = build_ops(lab, memory_max)
    try:
        for op, command in build_plan(ops, runs, release_ids):
            say(f"{op.title}: run {len(op.logs) + 1}: {' '.join(command)}")
            before = len(op.seconds)
            run_once(op, command, log_dir, say, lab.secrets)
            if len(op.seconds) > before:
                say(f"  {op.seconds[-1]:.1f} s, {op.tasks[-1]} tasks, {op.changed[-1]} changed")
    finally:
        for rid in release_ids:
            shutil.rmtree(BUILD_DIR / rid, ignore_errors=True)
    return ops
