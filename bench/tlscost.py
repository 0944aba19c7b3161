"""What mutual TLS between the fronts and the app nodes costs: the front1 HTTP/1.1 rows with it (as
the lab runs), then after site.yml with app_tls false, then again after a plain `site.yml` has put
the lab back (always, also when a step failed); CPU µs per request of each tier, with / without."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import appnode, ops
from .http import PATHS, CheckFailed, Row, Runner, front1_h1, preflight
from .lab import Lab
from .loads import Shape
from .stats import ratio

GOAL = 1.10  # the issue's goal: at most 10 % more CPU per request, front and app together
WARM_UP_S = 3  # an unmeasured load after each switch: the restarted workers load what they load lazily


@dataclass
class TlsCost:
    rows: list[Row] = field(default_factory=list)  # keys "mtls <path>", "plain <path>", "mtls-back <path>"
    switches: list[ops.Op] = field(default_factory=list)
    failed: str | None = None

    def side(self, path: str, tls: bool) -> dict[str, float | None]:
        """Mean req/s and CPU µs per request of a path's rows with or without TLS (with: the run
        before the switch and the one after the way back)."""
        rows = [r for r in self.rows if r.path == path and r.key.startswith("mtls") == tls and not r.load.limit]

        def mean(values: list[float | None]) -> float | None:
            known = [v for v in values if v is not None]
            return sum(known) / len(known) if known and len(known) == len(values) else None

        front, app = mean([r.front_us for r in rows]), mean([r.app_us for r in rows])
        total = None if front is None or app is None else front + app
        return {"rps": mean([r.load.rps for r in rows]), "front_us": front, "app_us": app, "total_us": total}

    def comparison(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for path in PATHS:
            on, off = self.side(path, True), self.side(path, False)
            total = ratio(on["total_us"], off["total_us"])
            out.append(
                {
                    "path": path,
                    "with": on,
                    "without": off,
                    "ratio_front": ratio(on["front_us"], off["front_us"]),
                    "ratio_app": ratio(on["app_us"], off["app_us"]),
                    "ratio_total": total,
                    "over_goal": None if total is None else total > GOAL,
                }
            )
        return out

    def as_json(self) -> dict[str, object]:
        return {
            "goal_ratio": GOAL,
            "comparison": self.comparison(),
            "rows": [r.as_json() for r in self.rows],
            "switches": [op.as_json() for op in self.switches],
            "failed": self.failed,
        }


# app_tls as a boolean: `-e app_tls=false` passes the string "false", which role app's `when: app_tls`
# refuses under ansible-core 2.19 (a conditional must be a boolean) and its templates' `if app_tls` reads as true.
PLAIN = ["-e", '{"app_tls": false}']


def switch(lab: Lab, tls: bool, log_dir: Path, say: Callable[[str], None]) -> ops.Op:
    """site.yml on the lab's inventory, with app_tls false unless tls; timed and logged like the operations."""
    extra = [] if tls else PLAIN
    op = ops.Op("tls-on" if tls else "tls-off", " ".join(["site.yml", *extra]), ops.playbook(lab, "site.yml", *extra))
    say(f"mutual TLS {'back on' if tls else 'off'}: {' '.join(op.command)}")
    ops.run_once(op, op.command, log_dir, say, lab.secrets)
    if op.seconds:
        say(f"  {op.seconds[-1]:.1f} s, {op.changed[-1]} changed")
    return op


def check_scheme(lab: Lab, service: appnode.AppService, tls: bool) -> None:
    """The app port answers plain HTTP on the first app node exactly when TLS is off, and every
    front serves (so Nginx follows the app nodes)."""
    status = appnode.http_status(lab.apps[0], f"http://127.0.0.1:{service.port}/healthz")
    if (status == 200) == tls:
        raise RuntimeError(
            f"{lab.apps[0].name}: plain GET /healthz on :{service.port} answered {status} with app_tls={tls}"
        )
    preflight(lab)


def measure(lab: Lab, service: appnode.AppService, shape: Shape, log_dir: Path, say: Callable[[str], None]) -> TlsCost:
    log_dir.mkdir(parents=True, exist_ok=True)
    runner, cost = Runner(lab, service, say), TlsCost()
    front1 = lab.fronts[0].name

    def rows(key: str, setup: str) -> None:
        front1_h1(lab, "/", Shape(WARM_UP_S, shape.connections, shape.threads, shape.timeout_s))()
        for path in PATHS:
            load_fn = front1_h1(lab, path, shape)
            cost.rows.append(runner.run(f"{key} {path}", setup, path, "HTTP/1.1", "wrk", load_fn))

    check_scheme(lab, service, True)
    rows("mtls", f"{front1} HTTPS, HTTP/1.1, mutual TLS to the app nodes")
    try:
        cost.switches.append(switch(lab, False, log_dir, say))
        if cost.switches[-1].failures:
            raise RuntimeError(cost.switches[-1].failures[-1])
        check_scheme(lab, service, False)
        rows("plain", f"{front1} HTTPS, HTTP/1.1, plain HTTP to the app nodes (app_tls false)")
    except (RuntimeError, CheckFailed) as exc:
        cost.failed = f"without mutual TLS: {exc}"
    finally:
        cost.switches.append(switch(lab, True, log_dir, say))
    if cost.switches[-1].failures:
        cost.failed = f"the lab may be left without mutual TLS: {cost.switches[-1].failures[-1]}"
        return cost
    try:
        check_scheme(lab, service, True)
        rows("mtls-back", f"{front1} HTTPS, HTTP/1.1, mutual TLS again (site.yml)")
    except (RuntimeError, CheckFailed) as exc:
        cost.failed = f"after the way back: {exc}"
    return cost
