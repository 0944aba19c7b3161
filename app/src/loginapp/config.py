"""Configuration read from ``LOGINAPP_*`` environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MIN_SECRET_KEY_BYTES = 32
ENVIRONMENTS = ("production", "development")


class ConfigError(RuntimeError):
    """Raised when the configuration is invalid; the message is one line."""


@dataclass(frozen=True)
class Settings:
    env: str
    secret_key: str | None
    users_file: str | None
    release: str
    proxy_hops: int
    session_lifetime: int
    max_content_length: int

    @property
    def production(self) -> bool:
        return self.env == "production"


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {raw!r}")
    return value


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build and validate :class:`Settings` from an environment mapping."""
    env = environ.get("LOGINAPP_ENV", "").strip().lower() or "production"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"LOGINAPP_ENV must be 'production' or 'development', got {env!r}")
    secret_key = environ.get("LOGINAPP_SECRET_KEY") or None
    if env == "production" and (
        secret_key is None or len(secret_key.encode("utf-8")) < MIN_SECRET_KEY_BYTES
    ):
        raise ConfigError(
            f"LOGINAPP_SECRET_KEY must be set and at least {MIN_SECRET_KEY_BYTES} bytes"
        )
    users_file = environ.get("LOGINAPP_USERS_FILE", "").strip() or None
    if env == "production" and users_file is None:
        raise ConfigError("LOGINAPP_USERS_FILE must be set")
    return Settings(
        env=env,
        secret_key=secret_key,
        users_file=users_file,
        release=environ.get("LOGINAPP_RELEASE", "").strip() or "dev",
        proxy_hops=_int(environ, "LOGINAPP_PROXY_HOPS", 0, 0),
        session_lifetime=_int(environ, "LOGINAPP_SESSION_LIFETIME", 3600, 1),
        max_content_length=_int(environ, "LOGINAPP_MAX_CONTENT_LENGTH", 65536, 1024),
    )
