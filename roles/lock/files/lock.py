"""The deploy lock's file operations on its host, each one compare-and-swap on the run id.

Run by role lock as ``python3 -c <this file> <operation> <lock file> ...``. Every operation
holds an exclusive ``flock`` on ``<lock file>.flock`` while it reads and changes the lock,
and a new lock replaces the old one by ``rename``: a reader sees the old lock or the new,
never half of one, and two runs never both believe they took it. Prints one JSON object:
``result`` (taken, held, noted, released, broken, free) and ``holder`` (the lock's fields,
the winner's when another run holds it).

  take     FILE FIELDS            take the lock when it is free
  takeover FILE EXPECT FIELDS     take it when run EXPECT (a dead run) still holds it
  note     FILE RUN KEY=VALUE...  record fields in the lock run RUN holds
  release  FILE RUN               remove the lock run RUN holds
  break    FILE EXPECT            remove the lock run EXPECT holds (unlock.yml)

FIELDS is a JSON object of the fields to write; it must name the ``run``.

With ``--metrics-dir DIR`` first (node exporter's textfile directory, when it exists), every
operation leaves ``DIR/flask_stack_deploy_lock.prom`` saying whether the lock is held and
since when (``flask_stack_deploy_lock_held``, ``flask_stack_deploy_lock_since_seconds``, with
the run's action and user): role monitor's alert on a lock held too long reads it.
"""

from __future__ import annotations

import calendar
import fcntl
import json
import os
import sys
import tempfile
import time

METRICS_FILE = "flask_stack_deploy_lock.prom"


def read(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return {}
    return dict(line.split("=", 1) for line in lines if "=" in line)


def replace(path: str, text: str) -> None:
    """Write `text` next to `path`, then rename it there (atomic on one file system): a reader
    sees the old file or the new one, never half of one."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".flask-stack.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.rename(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write(path: str, fields: dict[str, str]) -> None:
    """The lock, one key=value line per field."""
    replace(path, "".join(f"{key}={str(value).replace(chr(10), ' ')}\n" for key, value in fields.items()))


def label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def metrics(holder: dict[str, str]) -> str:
    """The lock as node exporter's textfile collector reads it."""
    lines = [
        "# HELP flask_stack_deploy_lock_held 1 while a run holds the deploy lock.",
        "# TYPE flask_stack_deploy_lock_held gauge",
        f"flask_stack_deploy_lock_held {1 if holder else 0}",
    ]
    if holder:
        try:
            since = calendar.timegm(time.strptime(holder.get("since", ""), "%Y-%m-%dT%H:%M:%SZ"))
        except ValueError:
            since = int(time.time())
        labels = f'action="{label(holder.get("action", ""))}",user="{label(holder.get("user", ""))}"'
        lines += [
            "# HELP flask_stack_deploy_lock_since_seconds When the run that holds the deploy lock took it.",
            "# TYPE flask_stack_deploy_lock_since_seconds gauge",
            f"flask_stack_deploy_lock_since_seconds{{{labels}}} {since}",
        ]
    return "\n".join(lines) + "\n"


def export(directory: str, holder: dict[str, str]) -> None:
    """The lock's state in `directory`, where node exporter's textfile collector reads it."""
    replace(os.path.join(directory, METRICS_FILE), metrics(holder))


def operate(operation: str, path: str, args: list[str]) -> dict[str, object]:
    holder = read(path)
    if operation == "take":
        if holder:
            return {"result": "held", "holder": holder}
        fields = json.loads(args[0])
        write(path, fields)
        return {"result": "taken", "holder": fields}
    if operation == "takeover":
        expect, fields = args[0], json.loads(args[1])
        if holder and holder.get("run") != expect:
            return {"result": "held", "holder": holder}
        fields = {**fields, "took_over": expect} if holder else fields
        write(path, fields)
        return {"result": "taken", "holder": fields}
    if operation == "note":
        run, notes = args[0], dict(arg.split("=", 1) for arg in args[1:])
        if holder.get("run") != run:
            return {"result": "held" if holder else "free", "holder": holder}
        holder.update(notes)
        write(path, holder)
        return {"result": "noted", "holder": holder}
    if operation in ("release", "break"):
        if holder.get("run") != args[0]:
            return {"result": "held" if holder else "free", "holder": holder}
        os.unlink(path)
        return {"result": "released" if operation == "release" else "broken", "holder": holder}
    raise SystemExit(f"unknown operation {operation!r}")


def main(argv: list[str]) -> int:
    metrics_dir = ""
    if argv[:1] == ["--metrics-dir"]:
        metrics_dir, argv = argv[1], argv[2:]
    if len(argv) < 2:
        raise SystemExit(__doc__)
    operation, path = argv[0], argv[1]
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".flock", "a", encoding="utf-8") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        answer = operate(operation, path, argv[2:])
        if metrics_dir and os.path.isdir(metrics_dir):
            export(metrics_dir, read(path))
    print(json.dumps(answer, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
