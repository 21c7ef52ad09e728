"""The actions app's own errors: what the console catches from its services."""

from __future__ import annotations

from collections.abc import Mapping

from crmhub.connectors.errors import field_errors, field_errors_text


class InvalidAct(Exception):
    """An act cannot be queued as asked. ``errors`` maps field → messages (``__all__``: none).

    ``str()`` is safe to show staff: it carries the messages, never a secret.
    """

    def __init__(self, errors: Mapping[str, list[str]] | str) -> None:
        self.errors = field_errors(errors)
        super().__init__(field_errors_text(self.errors))
        self.message = str(self)
