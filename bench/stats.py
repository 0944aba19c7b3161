"""Pure statistics: percentiles, medians, CPU per request, ratios."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile ``p`` (0 < p <= 100) of ``values``, as wrk and HdrHistogram report it."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} is not in (0, 100]")
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def median(values: Sequence[float]) -> float:
    """The middle value (the mean of the two middle ones for an even count)."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def cpu_us_per_request(before_ns: int, after_ns: int, requests: int) -> float | None:
    """µs of CPU per request from two readings of a cgroup's CPU counter (ns); None without requests."""
    if requests <= 0:
        return None
    if after_ns < before_ns:
        raise ValueError(f"CPU counter went backwards ({before_ns} -> {after_ns}): the service restarted")
    return (after_ns - before_ns) / 1000 / requests


def ratio(value: float | None, base: float | None) -> float | None:
    """value / base, or None when either is missing or the base is zero."""
    if value is None or not base:
        return None
    return value / base


SPAN_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0}
SPAN_PART = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(us|ms|s|min)$")


def quota_percent(cpu_quota_per_sec: str) -> int | None:
    """systemd's CPUQuotaPerSecUSec ("1s", "500ms", "1s 500ms", "infinity") as a CPUQuota= percent."""
    text = cpu_quota_per_sec.strip()
    if text in ("", "infinity"):
        return None
    seconds = 0.0
    for part in text.split():
        match = SPAN_PART.match(part)
        if not match:
            raise ValueError(f"not a systemd time span: {cpu_quota_per_sec!r}")
        seconds += float(match[1]) * SPAN_UNITS[match[2]]
    return round(seconds * 100)
