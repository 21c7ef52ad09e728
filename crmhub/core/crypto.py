"""Encrypt credentials at rest with Fernet, several keys, each value bound to its row.

The plaintext sealed is a small JSON envelope ``{"v": value, "t": context}``; ``context``
names the table, column and row (``connections.connection.secrets:<uid>``). Fernet has no
associated data, so the envelope is what stops a ciphertext copied into another row from
decrypting there. A wrong key raises: a value never silently turns into its ciphertext.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(Exception):
    """A stored secret could not be decrypted (wrong key, or bound to another row)."""


@cache
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _multifernet(tuple(settings.CRMHUB_FIELD_KEYS))


def seal(value: Any, *, context: str) -> str:
    """Return the ciphertext of ``value`` (JSON-serialisable) bound to ``context``."""
    envelope = json.dumps({"v": value, "t": context}, separators=(",", ":"))
    return _current().encrypt(envelope.encode()).decode()


def unseal(token: str, *, context: str) -> Any:
    """Return the value sealed in ``token``; raise ``DecryptionError`` if it is not ours."""
    try:
        envelope = json.loads(_current().decrypt(token.encode()))
    except InvalidToken as exc:
        raise DecryptionError(
            "Stored credentials cannot be decrypted with the configured CRMHUB_FIELD_KEYS "
            "(wrong or missing key)."
        ) from exc
    if not isinstance(envelope, dict) or envelope.get("t") != context:
        raise DecryptionError("Stored credentials belong to another record; refusing them.")
    return envelope["v"]


def signed(token: str) -> bool:
    """Return whether one of the configured keys sealed ``token`` (its signature checked;
    nothing decrypted)."""
    try:
        _current().extract_timestamp(token.encode())
    except InvalidToken:
        return False
    return True


def rotate(token: str) -> str:
    """Return ``token`` re-encrypted with the newest key (its envelope unchanged)."""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("A stored credential cannot be decrypted with any key.") from exc
