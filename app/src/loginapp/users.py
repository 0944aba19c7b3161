"""Users file loading and password verification."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from argon2 import Parameters, PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .config import ConfigError

USERNAME_RE = re.compile(r"[A-Za-z0-9._@+-]{1,64}")
# What an unknown user's password is checked against with the project's parameters (argon2-cffi's
# defaults, which `loginapp hash-password` uses): a hash of a random password nobody kept, so
# that an unknown name costs what a known one does, and no worker computes one as it starts.
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$p2Vb/BitJGmJ3AYnyeYIRw$"
    "KwpCaXQN3560HmPofnttI+AaWkf3zc7BgBzUb9qxNw0"
)


def parameters(hasher: PasswordHasher) -> Parameters:
    """The parameters a hasher makes hashes with."""
    return Parameters(
        type=hasher.type,
        version=19,
        salt_len=hasher.salt_len,
        hash_len=hasher.hash_len,
        time_cost=hasher.time_cost,
        memory_cost=hasher.memory_cost,
        parallelism=hasher.parallelism,
    )


def weaker(found: Parameters, minimum: Parameters) -> str | None:
    """Why a hash's parameters are weaker than the minimum, or None when they are not."""
    if found.type is not Type.ID:
        return f"argon2{found.type.name.lower()}, not argon2id"
    if found.memory_cost < minimum.memory_cost:
        return f"memory m={found.memory_cost} KiB, below m={minimum.memory_cost}"
    if found.time_cost < minimum.time_cost:
        return f"time t={found.time_cost}, below t={minimum.time_cost}"
    return None


def parse_users(
    text: str, source: str = "<users>", minimum: Parameters | None = None
) -> dict[str, str]:
    """Parse ``username:argon2hash`` lines; raise ConfigError naming source and line.

    With ``minimum``, a hash weaker than it (not argon2id, less memory or fewer passes) is
    refused: a weak hash in the file is cheap to crack once the file leaks.
    """
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
            found = extract_parameters(pw_hash)
        except (InvalidHashError, ValueError):
            raise ConfigError(f"{where}: not a valid argon2 hash") from None
        problem = weaker(found, minimum) if minimum else None
        if problem:
            raise ConfigError(
                f"{where}: the hash of {username!r} is weaker than this app accepts ({problem}); "
                "make it again with `loginapp hash-password`"
            )
        users[username] = pw_hash
    return users


def load_users(path: str | Path, minimum: Parameters | None = None) -> dict[str, str]:
    """Read and parse a users file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read users file {path}: {reason}") from None
    return parse_users(text, str(path), minimum)


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

    def stored_hash(self, username: str) -> str | None:
        """The user's password hash as the users file has it; None for an unknown name."""
        return self.users.get(username)

    @property
    def dummy_hash(self) -> str:
        """What an unknown user's password is checked against: a hash with this store's
        parameters, whatever the users' own (DUMMY_HASH for the project's; another hasher's,
        as in tests, made once, the first time it is needed)."""
        if self._dummy_hash is None:
            if extract_parameters(DUMMY_HASH) == parameters(self.hasher):
                self._dummy_hash = DUMMY_HASH
            else:
                self._dummy_hash = self.hasher.hash(secrets.token_hex(16))
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
