"""The console's forms."""

from __future__ import annotations

#: The largest id a database column holds (a bigger one cannot be bound in a query).
MAX_ID = 2**63 - 1


def database_id(text: str) -> int | None:
    """Return ``text`` as a row id, or None unless it is ASCII digits within ``MAX_ID``.

    ``str.isdigit`` accepts "²" (``int`` refuses it) and ``int`` refuses more than 4,300
    digits: ids typed into URLs are checked here before either can raise.
    """
    if not (0 < len(text) <= len(str(MAX_ID)) and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_ID else None
