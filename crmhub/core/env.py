"""Read crmhub's configuration from the environment (12-factor).

Two modes:

* ``embedded`` (the default): everything on one machine with no server to install.
  Secrets that are not given are generated once into the data folder and reused.
* ``production``: every secret must come from the environment; a missing one stops
  start-up with a clear message.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

MODES = ("embedded", "production")
WEB_ROLES = ("all", "console", "sandbox")
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def read_bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    """Return the boolean value of ``name``; raise on anything but a clear yes or no."""
    raw = env.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no; got {raw!r}.")


def read_list(env: Mapping[str, str], name: str, *, default: list[str]) -> list[str]:
    """Return a comma-separated variable as a list of trimmed, non-empty items."""
    raw = env.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def read_networks(env: Mapping[str, str], name: str) -> list[str]:
    """Return a comma-separated list of IP addresses or networks (CIDR); refuse anything else."""
    values = read_list(env, name, default=[])
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {value!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/24)."
            ) from None
    return values


def read_mode(env: Mapping[str, str]) -> str:
    """Return ``embedded`` or ``production`` from ``CRMHUB_MODE``."""
    mode = env.get("CRMHUB_MODE", "embedded").strip().lower()
    if mode not in MODES:
        raise ImproperlyConfigured(f"CRMHUB_MODE must be 'embedded' or 'production'; got {mode!r}.")
    return mode


def read_web_role(env: Mapping[str, str], *, sandbox: bool) -> str:
    """Return what a web process serves (``CRMHUB_WEB_ROLE``): ``all``, ``console`` or
    ``sandbox`` (which needs the sandbox on)."""
    role = env.get("CRMHUB_WEB_ROLE", "all").strip().lower()
    if role not in WEB_ROLES:
        raise ImproperlyConfigured(
            f"CRMHUB_WEB_ROLE must be 'all', 'console' or 'sandbox'; got {role!r}."
        )
    if role == "sandbox" and not sandbox:
        raise ImproperlyConfigured("CRMHUB_WEB_ROLE=sandbox needs the sandbox (CRMHUB_SANDBOX=1).")
    return role


def _generated(path: Path, make: Callable[[], str]) -> str:
    """Return the secret stored at ``path``, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def read_secret_key(env: Mapping[str, str], *, mode: str, var_dir: Path) -> str:
    """Return Django's SECRET_KEY; generated into ``var/`` only in embedded mode."""
    value = env.get("SECRET_KEY", "").strip()
    if value:
        return value
    if mode == "production":
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. In production mode it must come from the environment "
            "(50+ random characters)."
        )
    return _generated(var_dir / "secret_key", lambda: secrets.token_urlsafe(64))


def read_field_keys(env: Mapping[str, str], *, mode: str, var_dir: Path) -> list[str]:
    """Return the credential-encryption keys, newest first (``CRMHUB_FIELD_KEYS``).

    Each key is a Fernet key. The first encrypts; all of them decrypt, which is how keys
    are rotated (add a new key in front, run ``manage.py rotate_field_keys``, drop the old).
    """
    keys = read_list(env, "CRMHUB_FIELD_KEYS", default=[])
    if not keys:
        if mode == "production":
            raise ImproperlyConfigured(
                "CRMHUB_FIELD_KEYS is not set. In production mode the credential-encryption "
                "keys must come from the environment (comma-separated Fernet keys; create one "
                "with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)."
            )
        keys = [_generated(var_dir / "field_keys", lambda: Fernet.generate_key().decode())]
    for index, key in enumerate(keys):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(
                f"CRMHUB_FIELD_KEYS item {index + 1} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from exc
    return keys


def local_url(*, host: str, port: int) -> str:
    """Return the URL of a server on this machine listening on ``host`` and ``port``."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - every address: reach it on loopback
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def embedded_broker(folder: Path) -> tuple[str, dict[str, object]]:
    """Return the URL and transport options of the embedded (filesystem) broker.

    Measured: the filesystem transport polling every 20 ms moved 400 tasks in under 2 s on
    two worker processes, where the SQLAlchemy/SQLite transport managed about one task a
    second. It loses the message of a worker killed with ``kill -9``; the action sweeper
    re-publishes from the database, so the broker is only a doorbell. The folders are made
    when the broker connects (``crmhub.core.broker``), not here.
    """
    return "filesystem://", {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        "polling_interval": 0.02,
    }
