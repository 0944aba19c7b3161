"""What makes a signed-in session end: its age, its user's password, its sign-out.

A session records when it was issued (``iat``, never renewed by use), a keyed fingerprint
of the user's password hash (``pwd``: a new password ends every older session) and an id
(``sid``) that signing out revokes. Revoked ids are kept in SQLite under the app's state
directory (every worker of the node reads them) until the session would have expired
anyway; the fronts send each sign-out to every app node, so a signed-out cookie is refused
by all of them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, MutableMapping
from contextlib import closing
from pathlib import Path
from typing import Any

from .config import ConfigError

FILE_NAME = "revoked-sessions.sqlite3"
SCHEMA = "CREATE TABLE IF NOT EXISTS revoked (sid TEXT PRIMARY KEY, until INTEGER)"
# A clock that runs this much behind another node's still accepts that node's sessions.
CLOCK_SKEW = 60


def password_fingerprint(secret_key: str, stored_hash: str) -> str:
    """16 hex digits that change with the user's password hash and tell nothing about it."""
    message = b"loginapp-session-password\0" + stored_hash.encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:16]


class RevokedSessions:
    """Session ids signed out before their time, each kept until the session's own end.

    With a directory, in SQLite there (shared by every worker of the node, kept across
    restarts); without one (development, tests), in this process only.
    """

    def __init__(self, directory: str | None, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(directory) / FILE_NAME if directory else None
        self.clock = clock
        self._memory: dict[str, int] = {}
        self._lock = threading.Lock()
        if self.path is not None:
            try:
                with closing(self._connect()) as db, db:
                    db.execute(SCHEMA)
            except sqlite3.Error as error:
                raise ConfigError(
                    f"LOGINAPP_STATE_DIR (or STATE_DIRECTORY) {directory} cannot keep "
                    f"{FILE_NAME}: {error}"
                ) from None

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(str(self.path), timeout=2)

    def revoke(self, sid: str, until: int) -> None:
        now = int(self.clock())
        if self.path is None:
            with self._lock:
                self._memory = {k: v for k, v in self._memory.items() if v >= now}
                self._memory[sid] = until
            return
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM revoked WHERE until < ?", (now,))
            db.execute("INSERT OR REPLACE INTO revoked (sid, until) VALUES (?, ?)", (sid, until))

    def __contains__(self, sid: object) -> bool:
        if not isinstance(sid, str):
            return False
        if self.path is None:
            return sid in self._memory
        with closing(self._connect()) as db:
            return db.execute("SELECT 1 FROM revoked WHERE sid = ?", (sid,)).fetchone() is not None


class SessionPolicy:
    """Starts sessions and tells whether one is still good."""

    def __init__(
        self,
        secret_key: str,
        max_age: int,
        revoked: RevokedSessions,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret_key = secret_key
        self.max_age = max_age
        self.revoked = revoked
        self.clock = clock

    def start(self, session: MutableMapping[str, Any], user: str, stored_hash: str) -> None:
        session.clear()
        session["user"] = user
        session["iat"] = int(self.clock())
        session["sid"] = secrets.token_urlsafe(12)
        session["pwd"] = password_fingerprint(self.secret_key, stored_hash)

    def user(
        self, session: MutableMapping[str, Any], hash_of: Callable[[str], str | None]
    ) -> str | None:
        """The session's user while the session is good: not older than max_age, the
        user's password unchanged, not signed out; else None."""
        user, issued, sid = session.get("user"), session.get("iat"), session.get("sid")
        if not isinstance(user, str) or not isinstance(issued, int) or not isinstance(sid, str):
            return None
        now = self.clock()
        if not (now - self.max_age <= issued <= now + CLOCK_SKEW):
            return None
        stored = hash_of(user)
        if stored is None or session.get("pwd") != password_fingerprint(self.secret_key, stored):
            return None
        if sid in self.revoked:
            return None
        return user

    def end(self, session: MutableMapping[str, Any]) -> None:
        """Sign the session out here and for good: its id is refused until it would have expired."""
        issued, sid = session.get("iat"), session.get("sid")
        if isinstance(issued, int) and isinstance(sid, str):
            self.revoked.revoke(sid, issued + self.max_age + CLOCK_SKEW)
        session.clear()
