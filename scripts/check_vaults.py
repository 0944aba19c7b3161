#!/usr/bin/env python3
"""Refuse a vault file that is not encrypted (make lint).

A vault file is any file under the inventories named ``vault.yml``/``vault.yaml`` or
``*.vault.yml``/``*.vault.yaml``, or any file under a ``vault/`` directory there (the
``.example`` files are templates and hold no secret). Each must be an ansible-vault file:
its first line starts with ``$ANSIBLE_VAULT;``. A plain one is named, with what to run;
the exit code is 1. Its content is never printed.

    scripts/check_vaults.py [--root inventory]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = b"$ANSIBLE_VAULT;"
SUFFIXES = (".yml", ".yaml")


def is_vault_file(path: Path, root: Path) -> bool:
    """A file under root that by its name or place holds secrets."""
    if path.suffix not in SUFFIXES:
        return False
    return path.stem == "vault" or path.stem.endswith(".vault") or "vault" in path.relative_to(root).parent.parts


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(len(HEADER)) == HEADER


def plain_vault_files(root: Path) -> list[Path]:
    return sorted(
        path for path in root.rglob("*") if path.is_file() and is_vault_file(path, root) and not is_encrypted(path)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT / "inventory", help="where the inventories are")
    args = parser.parse_args(argv)
    plain = plain_vault_files(args.root)
    for path in plain:
        print(
            f"{path}: a vault file that is not encrypted; run: .venv/bin/ansible-vault encrypt {path}", file=sys.stderr
        )
    return 1 if plain else 0


if __name__ == "__main__":
    sys.exit(main())
