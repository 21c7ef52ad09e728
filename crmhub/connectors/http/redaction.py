"""Mask one connection's secrets in what its calls' record keeps.

Two rules, with the vocabulary shared with ``crmhub.core.redaction``
(``crmhub.redaction_words``): a value known to be secret (a credential of the connection,
a token a login answered) is replaced wherever it appears, and a value under a secret-like
name (the shared names, plus the names this CRM gives its credentials) is masked whatever
it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from crmhub.redaction_words import MASK, MIN_SECRET_LENGTH, is_secret_name


def _longest_first(values: Iterable[str]) -> tuple[str, ...]:
    # The longest first, so a secret containing another is masked whole.
    return tuple(
        sorted({v for v in values if v and len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    )


class Redactor:
    """The secrets of one connection: its secret values and its CRM's secret field names."""

    def __init__(self, *, values: Iterable[str] = (), fields: Iterable[str] = ()) -> None:
        self.values = _longest_first(values)
        self.fields = frozenset(name.lower() for name in fields)

    def add(self, value: str) -> bool:
        """Mask ``value`` from now on; return whether it was not masked already."""
        if not value or len(value) < MIN_SECRET_LENGTH or value in self.values:
            return False
        self.values = _longest_first((*self.values, value))
        return True

    def text(self, text: str) -> str:
        """Return ``text`` with the secret values masked."""
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def is_secret_name(self, name: str) -> bool:
        """Return whether a value under ``name`` is a secret."""
        return name.lower() in self.fields or is_secret_name(name)

    def data(self, data: Any) -> Any:
        """Return ``data`` with secret-named keys masked and secret values scrubbed."""
        if isinstance(data, Mapping):
            return {
                k: MASK if self.is_secret_name(str(k)) else self.data(v) for k, v in data.items()
            }
        if isinstance(data, list | tuple):
            return [self.data(item) for item in data]
        if isinstance(data, str):
            return self.text(data)
        return data

    def url(self, url: str, params: Mapping[str, Any] | None) -> str:
        """Return ``url`` with its query ``params`` as the record shows them."""
        parts = urlsplit(url)
        query = urlencode(self.data(dict(params or {})), doseq=True)
        return self.text(urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")))
