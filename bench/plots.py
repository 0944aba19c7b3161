"""PNG plots of a run's results (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(row: dict[str, Any]) -> str:
    return f"{row['setup']}  {row['path']}"


def throughput(rows: list[dict[str, Any]], path: Path) -> None:
    """Requests per second of the rows that measured the stack (a row whose load generator hit a
    limit of its own is left out: its req/s is the generator's)."""
    plt = _pyplot()
    rows = [r for r in rows if not r.get("limit")]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    labels = [_label(r) for r in rows][::-1]
    values = [r["rps"] for r in rows][::-1]
    bars = ax.barh(labels, values, color="#4c72b0")
    for bar, row in zip(bars, rows[::-1], strict=True):
        ratio = f"  x{row['ratio_to_devserver']:.2f}" if row["ratio_to_devserver"] is not None else ""
        ax.text(
            bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {row['rps']:,.0f}{ratio}", va="center", fontsize=8
        )
    ax.set_xscale("log")
    ax.set_xlabel("requests/s (log scale); xN = ratio to the development server")
    ax.set_title("Throughput per setup (one run, side by side)")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latency_cdf(latencies_ms: list[float], summary: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    values = sorted(latencies_ms)
    count = len(values)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(values, [(k + 1) / count for k in range(count)], color="#4c72b0")
    for key, label, color in [
        ("p50_ms", "p50", "#55a868"),
        ("p99_ms", "p99", "#dd8452"),
        ("p999_ms", "p99.9", "#c44e52"),
    ]:
        ax.axvline(summary[key], color=color, linestyle="--", linewidth=1)
        ax.text(
            summary[key], 0.02, f" {label} {summary[key]:.1f} ms", rotation=90, color=color, fontsize=8, va="bottom"
        )
    ax.set_xscale("log")
    ax.set_xlabel("response time, ms (log scale)")
    ax.set_ylabel("share of requests answered within")
    ax.set_title(f"Latency at a fixed rate through one front ({summary['rps']:,.0f} req/s, {count:,} requests)")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cpu_per_request(rows: list[dict[str, Any]], path: Path) -> None:
    plt = _pyplot()
    rows = [r for r in rows if r["front_cpu_us_per_request"] is not None or r["app_cpu_us_per_request"] is not None]
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(rows) + 1.5))
    labels = [_label(r) for r in rows][::-1]
    front = [r["front_cpu_us_per_request"] or 0 for r in rows][::-1]
    app = [r["app_cpu_us_per_request"] or 0 for r in rows][::-1]
    ax.barh(labels, front, color="#dd8452", label="front: Nginx (TLS + proxy or file)")
    ax.barh(labels, app, left=front, color="#4c72b0", label="app: Gunicorn / dev server")
    for y, (f, a) in enumerate(zip(front, app, strict=True)):
        text = f" front {f:,.0f} + app {a:,.0f} µs" if f and a else f" {'front' if f else 'app'} {f + a:,.0f} µs"
        ax.text(f + a, y, text, va="center", fontsize=8)
    ax.set_xlabel("CPU µs per request (cgroup accounting of each tier's service)")
    ax.set_title("CPU cost per request per tier")
    ax.legend(loc="lower right", fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlim(0, max((f + a for f, a in zip(front, app, strict=True)), default=1) * 1.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def operations(ops: list[dict[str, Any]], path: Path) -> None:
    plt = _pyplot()
    ops = [o for o in ops if o["median_s"] is not None]
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(ops) + 1.5))
    labels = [o["title"] for o in ops][::-1]
    med = [o["median_s"] for o in ops][::-1]
    low = [o["median_s"] - o["min_s"] for o in ops][::-1]
    high = [o["max_s"] - o["median_s"] for o in ops][::-1]
    ax.barh(labels, med, xerr=[low, high], color="#8172b3", capsize=3)
    for y, value in enumerate(med):
        ax.text(value, y, f" {value:.0f} s", va="bottom", fontsize=8)
    ax.set_xlabel("seconds (median, bars from min to max)")
    ax.set_title("Operations on the lab")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw(results: dict[str, Any], latencies_ms: list[float] | None, out_dir: Path) -> list[Path]:
    """Every plot the results allow; the paths written."""
    written = []
    if results.get("http") and any(not r.get("limit") for r in results["http"]):
        throughput(results["http"], out_dir / "throughput.png")
        written.append(out_dir / "throughput.png")
    if results.get("http"):
        cpu_per_request(results["http"], out_dir / "cpu_per_request.png")
        written.append(out_dir / "cpu_per_request.png")
    if results.get("fixed_rate") and latencies_ms:
        latency_cdf(latencies_ms, results["fixed_rate"]["row"], out_dir / "latency_fixed_rate.png")
        written.append(out_dir / "latency_fixed_rate.png")
    if results.get("ops") and any(o["median_s"] is not None for o in results["ops"]):
        operations(results["ops"], out_dir / "operations.png")
        written.append(out_dir / "operations.png")
    return written
