"""make bench: measure the running lab and write artifacts/bench/ (see README.md, Performance)."""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import appnode, http, ops, plots, report, tlscost
from .lab import ROOT, NoLab, load_lab
from .loads import Shape

OUT_DIR = ROOT / "artifacts" / "bench"
PUBLISH_DIR = ROOT / "docs" / "bench"
REQUIREMENTS = ROOT / "bench" / "requirements.txt"


def shown(path: Path) -> str:
    """A path as the user reads it: relative to the repository when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument(
        "--only",
        choices=["http", "tls", "ops"],
        help="measure only the HTTP rows, the cost of mutual TLS (switched off and back on) or the operations",
    )
    parser.add_argument("--skip-ops", action="store_true", help="leave the operations out")
    parser.add_argument("--ops-runs", type=int, default=3, metavar="N", help="runs of each operation (default 3)")
    parser.add_argument("--duration", type=int, default=8, metavar="S", help="seconds of each load (default 8)")
    parser.add_argument("--connections", type=int, default=8, metavar="N", help="connections of each load (default 8)")
    parser.add_argument(
        "--app-name", default="loginapp", help="the role's app_name: <app_name>.service on the app nodes"
    )
    parser.add_argument(
        "--out", type=Path, default=OUT_DIR, help=f"where results go (default {OUT_DIR.relative_to(ROOT)})"
    )
    parser.add_argument(
        "--publish", action="store_true", help=f"also copy the plots and results.md to {PUBLISH_DIR.relative_to(ROOT)}/"
    )
    return parser


def check_args(args: argparse.Namespace) -> str | None:
    if not 1 <= args.ops_runs <= 20:
        return f"--ops-runs {args.ops_runs}: give 1 to 20"
    if not 2 <= args.duration <= 60:
        return f"--duration {args.duration}: give 2 to 60 seconds"
    if not 2 <= args.connections <= 64:
        return f"--connections {args.connections}: give 2 to 64"
    return None


def ensure_tools() -> None:
    """wrk and h2load from Debian on the controller; matplotlib in this venv."""
    subprocess.run([str(ROOT / "scripts" / "ensure-bench-tools")], check=True)
    if importlib.util.find_spec("matplotlib") is None:
        say(f"installing {REQUIREMENTS.relative_to(ROOT)} into {sys.prefix}")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
            check=True,
        )


def git_commit() -> dict[str, Any]:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=False)
    return {"commit": head.stdout.strip() or "unknown", "dirty": bool(dirty.stdout.strip())}


def tool_versions() -> dict[str, str]:
    versions = {}
    for name, argv in {"wrk": ["wrk", "--version"], "h2load": ["h2load", "--version"]}.items():
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        versions[name] = (out.stdout or out.stderr).splitlines()[0].strip() if (out.stdout or out.stderr) else "?"
    return versions


def limited_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The HTTP rows, the fixed-rate one and the TLS cost's among them, whose load generator hit a limit of its own."""
    fixed = [results["fixed_rate"]["row"]] if results.get("fixed_rate") else []
    tls = results.get("tls_cost", {}).get("rows", [])
    return [row for row in [*results.get("http", []), *fixed, *tls] if row.get("limit")]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.out = args.out.resolve()
    problem = check_args(args)
    if problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 2
    try:
        lab = load_lab()
    except NoLab as exc:
        print(f"no lab: run `make lab` first ({exc})", file=sys.stderr)
        return 2
    if lab.state != "up":
        say(f"lab.json says the lab is {lab.state!r}: measuring it as it serves now (the checks stop a broken one)")
    do_http = args.only in (None, "http")
    do_tls = args.only in (None, "tls")
    do_ops = args.only in (None, "ops") and not args.skip_ops
    ensure_tools()
    shape = Shape(duration_s=args.duration, connections=args.connections)
    services = {a.name: appnode.read_app_service(a, args.app_name) for a in lab.apps}
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        **git_commit(),
        "lab": {"fronts": len(lab.fronts), "apps": len(lab.apps), "state": lab.state},
        "apps": {name: s.as_json() for name, s in services.items()},
        "shape": {"duration_s": shape.duration_s, "connections": shape.connections, "threads": shape.threads},
        "tools": tool_versions(),
    }
    latencies: list[float] | None = None
    args.out.mkdir(parents=True, exist_ok=True)
    if do_http:
        result = http.measure(lab, services, shape, say)
        results["static_path"] = result.static_path
        results["http"] = [row.as_json() for row in result.rows]
        if result.fixed_rate:
            fixed = result.fixed_rate
            results["fixed_rate"] = {
                "share": http.FIXED_RATE_SHARE,
                "peak_rps": round(fixed.target_rps / http.FIXED_RATE_SHARE, 1),
                "rate_rps": fixed.rps_per_client * shape.connections,
                "rps_per_client": fixed.rps_per_client,
                "row": fixed.row.as_json(),
            }
            latencies = fixed.row.load.latencies_ms
    if do_tls:
        cost = tlscost.measure(lab, services[lab.apps[0].name], shape, args.out / "ops", say)
        results["tls_cost"] = cost.as_json()
    if do_ops:
        results["ops"] = [op.as_json() for op in ops.measure(lab, args.ops_runs, args.out / "ops", say, args.app_name)]
    json_path, md_path = report.write(results, args.out)
    pngs = plots.draw(results, latencies, args.out)
    print(report.markdown(results))
    say(f"wrote {', '.join(shown(p) for p in [json_path, md_path, *pngs])}")
    if args.publish:
        PUBLISH_DIR.mkdir(parents=True, exist_ok=True)
        for path in [md_path, *pngs]:
            shutil.copy2(path, PUBLISH_DIR / path.name)
        say(f"published {len(pngs)} plots and results.md to {PUBLISH_DIR.relative_to(ROOT)}/")
    limited = [f"{r['setup']} {r['path']}: {r['limit']}" for r in limited_rows(results)]
    if limited:
        say("rows whose load generator hit a limit of its own (no req/s of the stack): " + "; ".join(limited))
    tls_cost = results.get("tls_cost") or {}
    over = [f"{c['path']} x{c['ratio_total']:.3f}" for c in tls_cost.get("comparison", []) if c["over_goal"]]
    if over:
        say(f"mutual TLS costs more than the goal (x{tlscost.GOAL:.2f} in total): {', '.join(over)}")
    if tls_cost.get("failed"):
        say(f"the cost of mutual TLS: FAILED: {tls_cost['failed']}")
    failed = [op["title"] for op in results.get("ops", []) if op["failed"]]
    if failed:
        say(f"operations that failed: {', '.join(failed)} (see their logs)")
    return 1 if failed or tls_cost.get("failed") else 0
