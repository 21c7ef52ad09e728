"""The one rule of who may be the same person: which keys identify, which links hold.

A key is a normalised email (lower-cased) or phone (E.164) of a live contact. It
*identifies* — links the contacts holding it — only when it is specific:

* it is not a placeholder (``settings.CRMHUB_MATCH_PLACEHOLDERS``: ``none@…``,
  ``+18888888888``…);
* no connection has two or more live contacts holding it: a household phone, an office
  switchboard or a shared inbox belongs to several people, so it tells nobody apart.

An identifying key therefore has one live holder per connection at most. Two groups of
records may be linked by a phone only when their emails do not disagree (both groups carry
real emails and share none: a switchboard number of two colleagues in two CRMs, each with
their own address). Emails are linked first, phones after, so the groups a phone meets are
the people their emails already made.

Full and incremental matching both decide with these functions, and nothing else.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence

from django.conf import settings

Key = tuple[str, str]
EMAIL = "email"
PHONE = "phone"
#: Link kinds in the order a matching applies them (staff joins first, phones last).
ORDER = ("staff", EMAIL, PHONE)


@functools.lru_cache(maxsize=8)
def _compiled(patterns: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, re.Pattern[str]]:
    compiled: dict[str, re.Pattern[str]] = {}
    for kind, found in patterns:
        if found:
            compiled[kind] = re.compile("|".join(f"(?:{p})" for p in found))
    return compiled


def placeholder_patterns() -> dict[str, re.Pattern[str]]:
    """Return the deny list of settings, one compiled expression per key type."""
    raw: Mapping[str, Sequence[str]] = settings.CRMHUB_MATCH_PLACEHOLDERS or {}
    return _compiled(tuple(sorted((str(k), tuple(map(str, v))) for k, v in raw.items())))


def is_placeholder(kind: str, value: str) -> bool:
    """Return whether the key ``kind:value`` is a placeholder that identifies nobody."""
    pattern = placeholder_patterns().get(kind)
    return bool(pattern and pattern.search(value))


def real_emails(email_keys: Iterable[str]) -> frozenset[str]:
    """Return the email keys of a contact that are not placeholders."""
    pattern = placeholder_patterns().get(EMAIL)
    return frozenset(e for e in email_keys if not (pattern and pattern.search(e)))


def key_identifies(kind: str, value: str, connection_ids: Sequence[int]) -> bool:
    """Return whether a key held by live contacts of ``connection_ids`` (one entry per
    holder) links them: two holders at least, never two of one connection, no placeholder."""
    return (
        len(connection_ids) > 1
        and len(set(connection_ids)) == len(connection_ids)
        and not is_placeholder(kind, value)
    )


def emails_disagree(first: frozenset[str] | None, second: frozenset[str] | None) -> bool:
    """Return whether two groups' real emails exclude a phone link between them."""
    if not first or not second:
        return False
    return not (first & second)
