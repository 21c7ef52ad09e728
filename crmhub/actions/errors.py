"""The actions app's own errors: what the console catches from its services."""

from __future__ import annotations

from collections.abc import Mapping


class InvalidAct(Exception):
    """An act cannot be queued as asked. ``errors`` maps field → messages (``__all__``: none).

    ``str()`` is safe to show staff: it carries the messages, never a secret.
    """

    def __init__(self, errors: Mapping[str, list[str]] | str) -> None:
        if isinstance(errors, str):
            errors = {"__all__": [errors]}
        self.errors = {field: list(messages) for field, messages in errors.items()}
        flat = "; ".join(
            f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
            for field, messages in self.errors.items()
        )
        super().__init__(flat or "Invalid parameters.")
        self.message = str(self)
