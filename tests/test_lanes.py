"""scripts/lanes.py's plan: which jobs run in which lane, and at which priority."""

from __future__ import annotations

import lanes


def test_the_first_lane_leads_and_the_others_run_niced() -> None:
    planned = lanes.plan(["molecule:default", "", "make:lint molecule:app", "molecule:nginx"], lead=True)
    assert [[job.spec for job in lane] for lane in planned] == [
        ["molecule:default"],
        ["make:lint", "molecule:app"],
        ["molecule:nginx"],
    ]
    first, *others = [job for lane in planned for job in lane]
    assert first.command[:2] != ["nice", "-n"] and first.command[1:3] == ["test", "-s"]
    for job in others:
        assert job.command[:3] == ["nice", "-n", str(lanes.FOLLOWER_NICENESS)]
    assert others[0].command[3:] == ["make", "--no-print-directory", "lint"]


def test_without_lead_every_lane_runs_at_the_normal_priority() -> None:
    planned = lanes.plan(["molecule:default", "make:lint"])
    assert all(job.niceness == 0 and job.command[0] != "nice" for lane in planned for job in lane)
