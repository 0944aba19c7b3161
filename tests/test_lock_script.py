"""Role lock's file operations (roles/lock/files/lock.py), run as the role runs them:
python3 -c <the file> <operation> <lock file> ..., here on a temporary directory."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

SCRIPT = (Path(__file__).resolve().parents[1] / "roles" / "lock" / "files" / "lock.py").read_text()


def lock(*args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def fields(run: str, **more: str) -> str:
    return json.dumps({"run": run, "user": "alice", "node_out": "", **more})


@pytest.fixture
def lock_file(tmp_path: Path) -> str:
    return str(tmp_path / "state" / "deploy.lock")


def test_a_free_lock_is_taken_and_a_held_one_names_its_holder(lock_file: str) -> None:
    assert lock("take", lock_file, fields("one"))["result"] == "taken"
    second = lock("take", lock_file, fields("two"))
    assert (second["result"], second["holder"]["run"]) == ("held", "one")
    assert Path(lock_file).read_text().splitlines()[0] == "run=one"


def test_of_runs_racing_for_a_dead_runs_lock_one_wins_and_the_others_see_the_winner(lock_file: str) -> None:
    lock("take", lock_file, fields("dead"))
    runs = [f"racer-{n}" for n in range(12)]
    with ThreadPoolExecutor(len(runs)) as pool:
        answers = list(pool.map(lambda run: lock("takeover", lock_file, "dead", fields(run)), runs))
    winners = [a["holder"]["run"] for a in answers if a["result"] == "taken"]
    assert len(winners) == 1, answers
    losers = [a for a in answers if a["result"] != "taken"]
    assert {a["holder"]["run"] for a in losers} == set(winners)
    holder = lock("take", lock_file, fields("late"))["holder"]
    assert (holder["run"], holder["took_over"]) == (winners[0], "dead")


def test_of_runs_racing_for_a_free_lock_one_wins(lock_file: str) -> None:
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda n: lock("take", lock_file, fields(f"r{n}")), range(12)))
    assert [a["result"] for a in answers].count("taken") == 1


def test_only_the_holder_notes_and_releases_and_break_needs_the_run_read(lock_file: str) -> None:
    lock("take", lock_file, fields("one"))
    assert lock("note", lock_file, "other", "node_out=app1")["result"] == "held"
    assert lock("note", lock_file, "one", "node_out=app1")["holder"]["node_out"] == "app1"
    assert lock("release", lock_file, "other")["result"] == "held"
    assert lock("break", lock_file, "other")["result"] == "held"
    assert Path(lock_file).exists()
    assert lock("break", lock_file, "one")["result"] == "broken"
    assert not Path(lock_file).exists()
    lock("take", lock_file, fields("two"))
    assert lock("release", lock_file, "two")["result"] == "released"
    assert lock("release", lock_file, "two")["result"] == "free"


def test_no_half_written_lock_is_left_beside_it(lock_file: str) -> None:
    lock("take", lock_file, fields("one"))
    lock("takeover", lock_file, "one", fields("two"))
    assert sorted(p.name for p in Path(lock_file).parent.iterdir()) == ["deploy.lock", "deploy.lock.flock"]


def test_with_a_metrics_dir_each_change_leaves_the_locks_state_for_the_node_exporter(
    lock_file: str, tmp_path: Path
) -> None:
    textfiles = tmp_path / "node-exporter"
    textfiles.mkdir()
    prom = textfiles / "flask_stack_deploy_lock.prom"
    taken = fields("one", since="2026-12-08T04:00:00Z", action="deploy")
    lock("--metrics-dir", str(textfiles), "take", lock_file, taken)
    assert prom.read_text().splitlines()[2:] == [
        "flask_stack_deploy_lock_held 1",
        "# HELP flask_stack_deploy_lock_since_seconds When the run that holds the deploy lock took it.",
        "# TYPE flask_stack_deploy_lock_since_seconds gauge",
        'flask_stack_deploy_lock_since_seconds{action="deploy",user="alice"} 1796702400',
    ]
    lock("--metrics-dir", str(textfiles), "release", lock_file, "one")
    assert prom.read_text().splitlines()[2:] == ["flask_stack_deploy_lock_held 0"]
    assert sorted(p.name for p in textfiles.iterdir()) == [prom.name], "nothing half-written left beside it"


def test_without_the_metrics_dir_nothing_is_written(lock_file: str, tmp_path: Path) -> None:
    absent = tmp_path / "no-exporter"
    assert lock("--metrics-dir", str(absent), "take", lock_file, fields("one"))["result"] == "taken"
    assert not absent.exists()
