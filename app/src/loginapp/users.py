"""Users file loading and password verification."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .config import ConfigError

USERNAME_RE = re.compile(r"[A-Za-z0-9._@+-]{1,64}")


def parse_users(text: str, source: str = "<users>") -> dict[str, str]:
    """Parse ``username:argon2hash`` lines; raise ConfigError naming source and line."""
    users: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"users file {source} line {lineno}"
        username, sep, pw_hash = line.partition(":")
        username, pw_hash = username.strip(), pw_hash.strip()
        if not sep or not username or not pw_hash:
            raise ConfigError(f"{where}: expected 'username:hash'")
        if not USERNAME_RE.fullmatch(username):
            raise ConfigError(f"{where}: invalid username {username!r}")
        if username in users:
            raise ConfigError(f"{where}: duplicate user {username!r}")
        try:
            extract_parameters(pw_hash)
        except (InvalidHashError, ValueError):
            raise ConfigError(f"{where}: not a valid argon2 hash") from None
        users[username] = pw_hash
    return users


def load_users(path: str | Path) -> dict[str, str]:
    """Read and parse a users file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read users file {path}: {reason}") from None
    return parse_users(text, str(path))


class UserStore:
    """In-memory user database with constant-ish time verification."""

    def __init__(self, users: dict[str, str], hasher: PasswordHasher | None = None) -> None:
        self.users = dict(users)
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    def __len__(self) -> int:
        return len(self.users)

    def __contains__(self, username: object) -> bool:
        return username in self.users

    @property
    def dummy_hash(self) -> str:
        """What an unknown user's password is checked against, so that it costs the same.

        A stored user's hash when there is one (same parameters, and nothing to compute:
        a hash made here would take its full memory cost in every worker as it starts,
        outside the sign-in limit); else a hash of a random password, made once.
        """
        if self._dummy_hash is None:
            stored = next(iter(self.users.values()), None)
            self._dummy_hash = stored or self.hasher.hash(secrets.token_hex(16))
        return self._dummy_hash

    def verify(self, username: str, password: str) -> bool:
        """True when the password matches; unknown users cost one hash check too."""
        stored = self.users.get(username)
        candidate = stored if stored is not None else self.dummy_hash
        secret = password.encode("utf-8", "surrogatepass")
        try:
            ok: bool = self.hasher.verify(candidate, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError, ValueError):
            ok = False
        return ok and stored is not None
