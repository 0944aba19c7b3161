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

from .lab import ROOT, Lab
from .parse import parse_recap
from .stats import median

RUN_TIMEOUT_S = 1200
# Another run holding the deploy lock (someone else's operation on the same lab) is waited
# out, by retrying at this interval, for at most this long; the refused tries are not timed.
LOCK_HELD = "deploy lock"
LOCK_RETRY_S = 20
LOCK_WAIT_S = 900
BUILD_DIR = ROOT / ".build" / "releases"


@dataclass
class Op:
    key: str
    title: str
    command: list[str]
    seconds: list[float] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
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
    recap = parse_recap(output)
    op.changed.append(sum(host["changed"] for host in recap.values()))


def measure(lab: Lab, runs: int, log_dir: Path, say: Callable[[str], None]) -> list[Op]:
    """site.yml once to settle the lab (a commit since its last run means a new release), then
    no-change site.yml, rolling restart, rolling deploys of new releases (then back to the
    release of HEAD, so that the lab serves what site.yml would), warm `make lab`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    release_ids = [f"bench-{stamp}-{k}" for k in range(1, runs + 1)]
    ops = [
        Op("site-first", "site.yml first (converges what changed since the lab's last run)", playbook(lab, "site.yml")),
        Op("site", "no-change site.yml", playbook(lab, "site.yml")),
        Op("restart", "rolling restart (restart.yml)", playbook(lab, "restart.yml")),
        Op("deploy", "rolling deploy of a new release (deploy.yml -e release=...)", playbook(lab, "deploy.yml")),
        Op("deploy-kept", "rolling deploy back to a kept release (deploy.yml)", playbook(lab, "deploy.yml")),
        Op("make-lab", "warm make lab", ["make", "lab"]),
    ]
    by_key = {op.key: op for op in ops}
    plan: list[tuple[Op, list[str]]] = [(by_key["site-first"], by_key["site-first"].command)]
    plan += [(by_key["site"], by_key["site"].command)] * runs
    plan += [(by_key["restart"], by_key["restart"].command)] * runs
    plan += [(by_key["deploy"], [*by_key["deploy"].command, "-e", f"release={rid}"]) for rid in release_ids]
    plan += [(by_key["deploy-kept"], by_key["deploy-kept"].command)]
    plan += [(by_key["make-lab"], by_key["make-lab"].command)] * runs
    try:
        for op, command in plan:
            say(f"{op.title}: run {len(op.logs) + 1}: {' '.join(command)}")
            before = len(op.seconds)
            run_once(op, command, log_dir, say, lab.secrets)
            if len(op.seconds) > before:
                say(f"  {op.seconds[-1]:.1f} s, {op.changed[-1]} changed")
    finally:
        for rid in release_ids:
            shutil.rmtree(BUILD_DIR / rid, ignore_errors=True)
    return ops
