"""The results as one Markdown table (printed and written) and as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


LIMIT_NOTE = (
    "A req/s cell that says `capped by` or `ended early` is a row whose load generator hit a limit of its own: "
    "its figure would be the generator's, not the stack's, so it is not given (bench/limits.py).\n"
)
TASKS_NOTE = (
    "tasks: the task results of each run's PLAY RECAP over all hosts, ok + failed + skipped + rescued "
    "(Ansible's ok already counts the changed ones; a task run on 4 hosts counts 4); changed: the recap's changed.\n"
)


def _rps(row: dict[str, Any]) -> str:
    """The row's req/s, or the limit its load generator hit instead."""
    return row["limit"] if row.get("limit") else _num(row["rps"])


def http_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| setup | path | req/s | p50 ms | p99 ms | p99.9 ms | errors (status/socket) | x dev server "
        "| front µs/req | app µs/req |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n"
    )
    lines = [
        f"| {r['setup']} | `{r['path']}` | {_rps(r)} | {_num(r['p50_ms'], 2)} | {_num(r['p99_ms'], 2)} "
        f"| {_num(r['p999_ms'], 2)} | {r['bad_status']}/{r['socket_errors']} | {_num(r['ratio_to_devserver'], 2)} "
        f"| {_num(r['front_cpu_us_per_request'], 0)} | {_num(r['app_cpu_us_per_request'], 0)} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n" + ("\n" + LIMIT_NOTE if any(r.get("limit") for r in rows) else "")


def fixed_rate_table(fixed: dict[str, Any]) -> str:
    r = fixed["row"]
    return (
        "| fixed rate | achieved req/s | p50 ms | p99 ms | p99.9 ms | p99 / p50 | errors (status/socket) "
        "| front µs/req | app µs/req |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
        f"| {fixed['rate_rps']:,} req/s ({fixed['share']:.0%} of {_num(fixed['peak_rps'])}) | {_rps(r)} "
        f"| {_num(r['p50_ms'], 2)} | {_num(r['p99_ms'], 2)} | {_num(r['p999_ms'], 2)} "
        f"| {_num(r['p99_ms'] / r['p50_ms'] if r['p50_ms'] else None, 1)} | {r['bad_status']}/{r['socket_errors']} "
        f"| {_num(r['front_cpu_us_per_request'], 0)} | {_num(r['app_cpu_us_per_request'], 0)} |\n"
        + ("\n" + LIMIT_NOTE if r.get("limit") else "")
    )


def tls_cost_table(cost: dict[str, Any]) -> str:
    """With / without mutual TLS per path: req/s and CPU µs per request of each tier, the total's ratio."""
    head = (
        "| path | req/s with / without | front µs/req with / without | app µs/req with / without "
        "| total µs/req with / without | total with / without |\n|---|--:|--:|--:|--:|--:|\n"
    )
    lines = []
    for c in cost["comparison"]:
        on, off = c["with"], c["without"]
        cells = [f"{_num(on[k], d)} / {_num(off[k], d)}" for k, d in [("rps", 1), ("front_us", 0), ("app_us", 0)]]
        cells.append(f"{_num(on['total_us'], 0)} / {_num(off['total_us'], 0)}")
        lines.append(f"| `{c['path']}` | {' | '.join(cells)} | {_num(c['ratio_total'], 3)} |")
    over = [f"`{c['path']}` ({c['ratio_total']:.3f})" for c in cost["comparison"] if c["over_goal"]]
    goal = cost["goal_ratio"]
    if over:
        verdict = f"Over the goal (total with / without at most {goal:.2f}): {', '.join(over)}."
    elif all(c["ratio_total"] is not None for c in cost["comparison"]):
        verdict = f"Within the goal: total with / without at most {goal:.2f} on every path."
    else:
        verdict = "No ratio for every path (a row is missing, limited or has no CPU reading)."
    notes = [
        "with: the mean of the run before `site.yml -e '{\"app_tls\": false}'` and the one after the plain `site.yml` "
        "that put the lab back; without: between the two. " + verdict,
        *([f"FAILED: {cost['failed']}"] if cost.get("failed") else []),
    ]
    return head + "\n".join(lines) + "\n\n" + "\n\n".join(notes) + "\n\n" + http_table(cost["rows"])


def _per_run(values: list[int] | None) -> str:
    return ", ".join(str(v) for v in values or []) or "-"


def ops_table(ops: list[dict[str, Any]]) -> str:
    head = (
        "| operation | runs | median s | min s | max s | tasks per run | changed per run |\n"
        "|---|--:|--:|--:|--:|---|---|\n"
    )
    lines, notes = [], []
    for op in ops:
        failed = f" ({len(op['failed'].split('; '))} failed)" if op["failed"] else ""
        if op["failed"]:
            notes += [f"- {op['title']}: {failure}" for failure in op["failed"].split("; ")]
        lines.append(
            f"| {op['title']}{failed} | {len(op['runs_s'])} | {_num(op['median_s'])} | {_num(op['min_s'])} "
            f"| {_num(op['max_s'])} | {_per_run(op.get('tasks'))} | {_per_run(op['changed_tasks'])} |"
        )
    failed = "\nFailed runs (not timed):\n\n" + "\n".join(notes) + "\n" if notes else ""
    return head + "\n".join(lines) + "\n\n" + TASKS_NOTE + failed


def markdown(results: dict[str, Any]) -> str:
    lab = results["lab"]
    apps = ", ".join(
        f"{name}: {a['workers']} workers x {a['threads']} threads ({a['worker_class']}), CPUQuota {a['cpu_quota_pct']}%"
        + (f" per {a['cpu_quota_period']}" if a.get("cpu_quota_period", "default") != "default" else "")
        + {True: ", mutual TLS", False: ", plain HTTP"}.get(a.get("tls"), "")
        for name, a in results.get("apps", {}).items()
    )
    parts = [
        f"Lab {lab['fronts']} fronts + {lab['apps']} app nodes, commit {results['commit'][:12]}, {results['date']}, "
        f"loads of {results['shape']['duration_s']} s with {results['shape']['connections']} connections.  ",
        f"App: {apps or 'not read'}.",
        "",
    ]
    if results.get("http"):
        parts += ["### HTTP", "", http_table(results["http"])]
    if results.get("fixed_rate"):
        parts += ["### Latency at a fixed rate (through one front)", "", fixed_rate_table(results["fixed_rate"])]
    if results.get("tls_cost"):
        parts += [
            "### Mutual TLS between the fronts and the app nodes: the cost",
            "",
            tls_cost_table(results["tls_cost"]),
        ]
    if results.get("ops"):
        parts += ["### Operations", "", ops_table(results["ops"])]
    return "\n".join(parts)


def write(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "results.json", out_dir / "results.md"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(markdown(results))
    return json_path, md_path
