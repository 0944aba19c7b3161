"""Configuration read from ``LOGINAPP_*`` environment variables."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

MIN_SECRET_KEY_BYTES = 32
ENVIRONMENTS = ("production", "development")
# A sign-in over the limit waits at most this long before it gets 503.
MAX_LOGIN_WAIT_MS = 10000
TRUTHY = ("1", "true", "yes", "on")
FALSY = ("", "0", "false", "no", "off")
# Peers whose X-Forwarded-* headers are believed when LOGINAPP_TRUSTED_PROXIES is unset.
DEFAULT_TRUSTED_PROXIES = "127.0.0.1,::1"


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
    expose_hostname: bool = False
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    login_concurrency: int = 0
    login_process_concurrency: int = 1
    login_wait_ms: int = 1000
    login_lock_dir: str | None = None
    session_max_age: int = 28800
    state_dir: str | None = None

    @property
    def production(self) -> bool:
        return self.env == "production"


def _int(
    environ: Mapping[str, str], name: str, default: int, minimum: int, maximum: int | None = None
) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    bounds = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
    try:
        value = int(raw, 10)
    except ValueError:
        raise ConfigError(f"{name} must be an integer {bounds}, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise ConfigError(f"{name} must be an integer {bounds}, got {raw!r}")
    return value


def _bool(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw in TRUTHY:
        return True
    if raw in FALSY:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _networks(
    environ: Mapping[str, str], name: str, default: str
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    raw = environ.get(name, default)
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"{name} must be a comma-separated list of addresses or networks, got {item!r}"
            ) from None
    return tuple(networks)


def _directory(environ: Mapping[str, str], name: str, systemd_name: str) -> str | None:
    """The directory ``name`` gives, else the first one of systemd's ``systemd_name``
    (RuntimeDirectory=, StateDirectory= of the unit), else none."""
    explicit = environ.get(name, "").strip()
    if explicit:
        return explicit
    return environ.get(systemd_name, "").strip().split(":")[0] or None


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
        expose_hostname=_bool(environ, "LOGINAPP_EXPOSE_HOSTNAME"),
        trusted_proxies=_networks(environ, "LOGINAPP_TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES),
        login_concurrency=_int(environ, "LOGINAPP_LOGIN_CONCURRENCY", 0, 0),
        login_process_concurrency=_int(environ, "LOGINAPP_LOGIN_PROCESS_CONCURRENCY", 1, 1),
        login_wait_ms=_int(environ, "LOGINAPP_LOGIN_WAIT_MS", 1000, 0, MAX_LOGIN_WAIT_MS),
        login_lock_dir=_directory(environ, "LOGINAPP_LOGIN_LOCK_DIR", "RUNTIME_DIRECTORY"),
        session_max_age=_int(environ, "LOGINAPP_SESSION_MAX_AGE", 28800, 60),
        state_dir=_directory(environ, "LOGINAPP_STATE_DIR", "STATE_DIRECTORY"),
    )
