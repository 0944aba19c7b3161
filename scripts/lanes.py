#!/usr/bin/env python3
"""Run test jobs in lanes: the jobs of a lane one after the other, the lanes side by side.

    scripts/lanes.py LANE [LANE ...]

A LANE is one argument, its jobs separated by spaces; a job is
    molecule:<scenario>   `molecule test -s <scenario>`, its log in artifacts/molecule/<scenario>.log
    make:<target>         `make <target>`, its log in artifacts/test/<target>.log
For example (what `make test` runs):
    scripts/lanes.py "molecule:default" "make:lint make:test-app make:test-controller molecule:app ..."

Each job's whole output goes to its log; the terminal shows when each job starts and ends
and each Molecule step, prefixed with the job's name. The first job that fails stops every
other running job (its whole process group), the scenarios it interrupted are destroyed,
the failed job's last lines are printed and the exit code is 1; Ctrl-C does the same (130).
Molecule scenarios run side by side safely: each has its own containers, network
(molecule-<scenario>) and ephemeral directory, each Molecule reads only its own scenario
(MOLECULE_GLOB), and one scenario never appears in two lanes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
TAIL_LINES = 60
STOP_GRACE_SECONDS = 15
DESTROY_TIMEOUT_SECONDS = 180
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Lines worth showing live: Molecule's steps ("INFO     [app > converge] Executing" without
# colours), pytest's failed tests and verdicts.
STEP = re.compile(r"^\w+\s+\[\S+ > (\w+)\] (.*)$")
SHOWN = re.compile(r"^\S+::\S+ (FAILED|ERROR)|^(FAILED|ERROR) \S+::|^=+ .*\b(passed|failed|errors?)\b.* in ")


@dataclass
class Job:
    """One command of a lane, with its log and outcome."""

    spec: str
    kind: str
    name: str
    log: Path
    started: float | None = None
    ended: float | None = None
    returncode: int | None = None
    process: subprocess.Popen[str] | None = field(default=None, repr=False)

    @property
    def command(self) -> list[str]:
        if self.kind == "molecule":
            return [tool("molecule"), "test", "-s", self.name]
        return ["make", "--no-print-directory", self.name]

    @property
    def seconds(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started

    @property
    def state(self) -> str:
        if self.started is None:
            return "not run"
        if self.returncode is None:
            return "interrupted"
        return "ok" if self.returncode == 0 else f"FAILED (exit {self.returncode})"


def tool(name: str) -> str:
    """A command of the venv this script runs in (make runs it with .venv/bin/python), else from PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else name


def parse_job(spec: str) -> Job:
    kind, _, name = spec.partition(":")
    if kind == "molecule" and (ROOT / "molecule" / name / "molecule.yml").is_file():
        return Job(spec, kind, name, ARTIFACTS / "molecule" / f"{name}.log")
    if kind == "make" and re.fullmatch(r"[a-z][a-z0-9-]*", name):
        return Job(spec, kind, name, ARTIFACTS / "test" / f"{name}.log")
    scenarios = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))
    raise SystemExit(
        f"lanes: unknown job '{spec}': use molecule:<scenario> (one of {', '.join(scenarios)}) or make:<target>"
    )


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


Process = tuple[int, str]  # a pid and its start time: a pid taken over later is never signalled


def process_start(pid: int) -> str | None:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def process_tree(root: int) -> list[Process]:
    """The process and all its descendants (from /proc), parents first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        start = process_start(pid)
        if start is not None:
            tree.append((pid, start))
        todo.extend(children.get(pid, []))
    return tree


def send(processes: list[Process], sig: signal.Signals) -> None:
    for pid, start in processes:
        if process_start(pid) == start:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


class Runner:
    """Runs the lanes, shows progress, stops everything on the first failure or on Ctrl-C."""

    def __init__(self, lanes: list[list[Job]]) -> None:
        self.lanes = lanes
        self.jobs = [job for lane in lanes for job in lane]
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.began = time.monotonic()
        self.failed: Job | None = None

    def say(self, job: Job, text: str) -> None:
        with self.lock:
            print(f"{minutes(time.monotonic() - self.began)} [{job.name}] {text}", flush=True)

    def environment(self, job: Job) -> dict[str, str]:
        env = dict(os.environ)
        # Each scenario keeps its own ephemeral directory (Molecule derives it from the scenario's name).
        env.pop("MOLECULE_EPHEMERAL_DIRECTORY", None)
        if job.kind == "molecule":
            # Molecule reads only this scenario: without it, every run loads (and rewrites the
            # state file of) every scenario, also those that other lanes are running.
            env["MOLECULE_GLOB"] = f"molecule/{job.name}/molecule.yml"
        env.update(NO_COLOR="1", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PY_COLORS="0")
        return env

    def run_job(self, job: Job) -> None:
        job.log.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:
            if self.stop.is_set():
                return
            job.started = time.monotonic()
            job.process = subprocess.Popen(
                job.command,
                cwd=ROOT,
                env=self.environment(job),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                bufsize=1,
                start_new_session=True,  # its own process group: stopped as a whole
            )
        self.say(job, f"started: {' '.join(job.command)} (log: {job.log.relative_to(ROOT)})")
        assert job.process.stdout is not None
        with job.log.open("w") as log:
            for raw in job.process.stdout:
                line = ANSI.sub("", raw.rstrip("\n"))
                log.write(line + "\n")
                step = STEP.match(line)
                if step:
                    self.say(job, f"{step.group(1)}: {step.group(2)}")
                elif SHOWN.search(line):
                    self.say(job, line.strip())
        code = job.process.wait()
        job.ended = time.monotonic()
        if self.stop.is_set() and code != 0 and self.failed is not job:
            return  # stopped by us: left "interrupted"
        job.returncode = code
        if code == 0:
            self.say(job, f"passed in {minutes(job.seconds)}")
            return
        self.say(job, f"FAILED (exit {code}) after {minutes(job.seconds)}")
        with self.lock:
            if self.failed is None:
                self.failed = job
        self.stop.set()

    def run_lane(self, lane: list[Job]) -> None:
        for job in lane:
            if self.stop.is_set():
                return
            try:
                self.run_job(job)
            except Exception as error:  # a job that cannot even start fails like one that exits non-zero
                job.started = job.started or time.monotonic()
                job.ended, job.returncode = time.monotonic(), 127
                job.log.parent.mkdir(parents=True, exist_ok=True)
                with job.log.open("a") as log:
                    log.write(f"lanes: {' '.join(job.command)} could not run: {error!r}\n")
                self.say(job, f"FAILED: could not run {' '.join(job.command)}: {error}")
                with self.lock:
                    if self.failed is None:
                        self.failed = job
                self.stop.set()
                return

    def stop_all(self) -> None:
        """SIGTERM to every process of every running job, SIGKILL to what is left after a grace period.

        By process tree, not only by process group: ansible-playbook starts a session of its
        own, so killing Molecule's group would leave a converge running.
        """
        self.stop.set()
        with self.lock:
            running = [j for j in self.jobs if j.process is not None and j.process.poll() is None]
        trees = {job.name: process_tree(job.process.pid) for job in running if job.process is not None}
        for pids in trees.values():
            send(pids, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for job in running:
            assert job.process is not None
            try:
                job.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                job.process.kill()
                job.process.wait()
        # Whatever ignored SIGTERM (or was started meanwhile) goes now.
        for job in running:
            assert job.process is not None
            send(trees[job.name] + process_tree(job.process.pid)[1:], signal.SIGKILL)

    def destroy_interrupted(self) -> None:
        """`molecule destroy` for each scenario stopped half-way (a failed `molecule test` destroys itself)."""
        for job in self.jobs:
            if job.kind != "molecule" or job.started is None or job.returncode is not None:
                continue
            self.say(job, "interrupted: destroying its nodes")
            with job.log.open("a") as log:
                log.write("\n--- stopped by scripts/lanes.py; molecule destroy ---\n")
                log.flush()
                try:
                    subprocess.run(
                        ["molecule", "destroy", "-s", job.name], cwd=ROOT, env=self.environment(job),
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        timeout=DESTROY_TIMEOUT_SECONDS, check=False,
                    )  # fmt: skip
                except subprocess.TimeoutExpired:
                    self.say(job, f"molecule destroy -s {job.name} did not finish; run it again")

    def summary(self) -> None:
        width = max(len("total (wall)"), *(len(j.spec) for j in self.jobs))
        print(f"\n{'job':<{width}}  {'time':>7}  result")
        for job in self.jobs:
            print(f"{job.spec:<{width}}  {minutes(job.seconds):>7}  {job.state}")
        print(f"{'total (wall)':<{width}}  {minutes(time.monotonic() - self.began):>7}")

    def run(self) -> int:
        threads = [threading.Thread(target=self.run_lane, args=(lane,), daemon=True) for lane in self.lanes]
        interrupted = False
        try:
            for thread in threads:
                thread.start()
            while any(t.is_alive() for t in threads):
                if self.stop.wait(timeout=0.5):
                    break
        except KeyboardInterrupt:
            interrupted = True
            print("\nCtrl-C: stopping every job", flush=True)
        if interrupted or self.stop.is_set():
            self.stop_all()
            for thread in threads:
                thread.join(timeout=30)
            self.destroy_interrupted()
        self.summary()
        if self.failed is not None:
            job = self.failed
            lines = job.log.read_text(errors="replace").splitlines()[-TAIL_LINES:]
            print(f"\n{job.spec} failed; the last {len(lines)} lines of {job.log.relative_to(ROOT)}:")
            print("\n".join(f"  | {line}" for line in lines))
            print(f"\n{job.spec} FAILED (exit {job.returncode}); full log: {job.log.relative_to(ROOT)}")
        passed = sum(job.returncode == 0 for job in self.jobs)
        # The verdict, alone on the last line; a job stopped or never started counts as failed.
        print(f"\njobs: {passed} passed, {len(self.jobs) - passed} failed", flush=True)
        if interrupted:
            return 130
        return 0 if passed == len(self.jobs) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run test jobs in lanes side by side (molecule:<scenario>, make:<target>); stop all on a failure.",
        epilog='example: scripts/lanes.py "molecule:default" "make:lint molecule:app molecule:nginx"',
    )
    parser.add_argument("lanes", nargs="+", metavar="LANE", help="space-separated jobs, run one after the other")
    args = parser.parse_args(argv)
    lanes = [[parse_job(spec) for spec in lane.split()] for lane in args.lanes]
    lanes = [lane for lane in lanes if lane]
    if not lanes:
        parser.error("no job given")
    specs = [job.spec for lane in lanes for job in lane]
    repeated = sorted({spec for spec in specs if specs.count(spec) > 1})
    if repeated:
        parser.error(f"a job appears twice: {', '.join(repeated)} (a scenario cannot run twice at once)")
    return Runner(lanes).run()


if __name__ == "__main__":
    sys.exit(main())
