"""The results as one Markdown table (printed and written) and as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def http_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| setup | path | req/s | p50 ms | p99 ms | p99.9 ms | errors (status/socket) | x dev server "
        "| front µs/req | app µs/req |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n"
    )
    lines = [
        f"| {r['setup']} | `{r['path']}` | {_num(r['rps'])} | {_num(r['p50_ms'], 2)} | {_num(r['p99_ms'], 2)} "
        f"| {_num(r['p999_ms'], 2)} | {r['bad_status']}/{r['socket_errors']} | {_num(r['ratio_to_devserver'], 2)} "
        f"| {_num(r['front_cpu_us_per_request'], 0)} | {_num(r['app_cpu_us_per_request'], 0)} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


def fixed_rate_table(fixed: dict[str, Any]) -> str:
    r = fixed["row"]
    return (
        "| fixed rate | achieved req/s | p50 ms | p99 ms | p99.9 ms | p99 / p50 | errors (status/socket) "
        "| front µs/req | app µs/req |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
        f"| {fixed['rate_rps']:,} req/s ({fixed['share']:.0%} of {_num(fixed['peak_rps'])}) | {_num(r['rps'])} "
        f"| {_num(r['p50_ms'], 2)} | {_num(r['p99_ms'], 2)} | {_num(r['p999_ms'], 2)} "
        f"| {_num(r['p99_ms'] / r['p50_ms'] if r['p50_ms'] else None, 1)} | {r['bad_status']}/{r['socket_errors']} "
        f"| {_num(r['front_cpu_us_per_request'], 0)} | {_num(r['app_cpu_us_per_request'], 0)} |\n"
    )


def ops_table(ops: list[dict[str, Any]]) -> str:
    head = "| operation | runs | median s | min s | max s | changed tasks per run |\n|---|--:|--:|--:|--:|---|\n"
    lines, notes = [], []
    for op in ops:
        failed = f" ({len(op['failed'].split('; '))} failed)" if op["failed"] else ""
        if op["failed"]:
            notes += [f"- {op['title']}: {failure}" for failure in op["failed"].split("; ")]
        lines.append(
            f"| {op['title']}{failed} | {len(op['runs_s'])} | {_num(op['median_s'])} | {_num(op['min_s'])} "
            f"| {_num(op['max_s'])} | {', '.join(str(c) for c in op['changed_tasks']) or '-'} |"
        )
    return (
        head + "\n".join(lines) + "\n" + ("\nFailed runs (not timed):\n\n" + "\n".join(notes) + "\n" if notes else "")
    )


def markdown(results: dict[str, Any]) -> str:
    lab = results["lab"]
    apps = ", ".join(
        f"{name}: {a['workers']} workers x {a['threads']} threads ({a['worker_class']}), CPUQuota {a['cpu_quota_pct']}%"
        + (f" per {a['cpu_quota_period']}" if a.get("cpu_quota_period", "default") != "default" else "")
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
    if results.get("ops"):
        parts += ["### Operations", "", ops_table(results["ops"])]
    return "\n".join(parts)


def write(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "results.json", out_dir / "results.md"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(markdown(results))
    return json_path, md_path
