#!/usr/bin/env python3
"""Make the per-lab (or per-scenario) secrets once, into a private directory.

    scripts/make_secrets.py DIR

Writes, only when missing, with mode 0600 in a 0700 directory:
    secret_key          LOGINAPP_SECRET_KEY shared by every app node (64 url-safe chars)
    demo_password       the demo user's random password
    demo_password_hash  its argon2 hash, as the users file wants it
Existing files are kept, so a second run changes nothing. Nothing is printed but paths.

secret_vars(DIR) is the one description of how the app's variables read these files
(app_secret_environment, app_config_files) at run time; the lab writes it into its
inventory. Molecule's copy is in .config/molecule/config.yml (tests/test_make_secrets.py
checks that the two say the same).
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from pathlib import Path

DEMO_USER = "demo"


def write_once(path: Path, make: Callable[[], str]) -> bool:
    if path.exists():
        return False
    path.touch(mode=0o600)
    path.write_text(make() + "\n")
    return True


def make_secrets(directory: Path) -> list[str]:
    """Create the missing secrets; return the names of the files made."""
    from argon2 import PasswordHasher  # from .venv; secret_vars() works without it

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    made = []
    if write_once(directory / "secret_key", lambda: secrets.token_urlsafe(48)):
        made.append("secret_key")
    if write_once(directory / "demo_password", lambda: secrets.token_urlsafe(15)):
        made.append("demo_password")
    password = (directory / "demo_password").read_text().strip()
    if write_once(directory / "demo_password_hash", lambda: PasswordHasher().hash(password)):
        made.append("demo_password_hash")
    return made


def secret_vars(directory: Path | str, username: str = DEMO_USER) -> dict[str, object]:
    """The role app variables that read the secrets in DIR on the controller (lookups, no values)."""

    def read(name: str) -> str:
        return f"{{{{ lookup('ansible.builtin.file', '{directory}/{name}') }}}}"

    return {
        "app_secret_environment": {"LOGINAPP_SECRET_KEY": read("secret_key")},
        "app_config_files": [{"name": "users", "content": f"{username}:{read('demo_password_hash')}\n"}],
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    made = make_secrets(Path(argv[0]))
    print(f"made: {', '.join(made)}" if made else "unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
