"""SQLite's tiers: FTS5 queries over the ``contacts_contact_fts`` table (names, other
fields and phone digits in columns of their own).

A word typed as a prefix that FTS5 has no prefix index for (longer than three letters) is
expanded into the doclist of every term starting with it, read whole whatever the limit:
for a word most contacts carry ("example", from their emails) ~35 ms, in each name tier
that finds nobody. The spelling index (``NameWord``: every name word of five letters or
more that live contacts carry) tells in one indexed probe whether any live name starts
with such a word; when one word of the query starts none, the name tiers cannot match a
live contact, and the statement asks FTS5 for nothing (``NOTHING``) instead, and the
any-prefix tier drops its "not a name prefix" part. The choice is made inside the same
statement (``MATCH CASE WHEN ... END``): the statements a search runs stay the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crmhub.contacts.search.plan import (
    TIER_ANY_PREFIX,
    TIER_EXACT,
    TIER_NAME_PREFIX,
    TIER_NAME_WORD,
    Plan,
)

#: An FTS5 query that matches nothing, read at no cost.
NOTHING = '""'
#: Typed words this long or longer are looked up in the spelling index (``spelling.MIN_WORD``:
#: the shortest name word it keeps; a shorter word may start a name it does not keep).
NAME_GUARD_MIN = 5
#: After every character a name word can hold, in SQLite's binary order of text.
_LAST = chr(0x10FFFF)


def _fts(terms: Sequence[str], *, column: str | None, prefix: bool) -> str:
    star = "*" if prefix else ""
    body = " AND ".join(f'"{term}"{star}' for term in terms)
    return f"{column} : ({body})" if column else f"({body})"


def names_guard(plan: Plan) -> tuple[str, list[Any]]:
    """Return an SQL condition true when every typed word of five letters or more starts a
    live contact's name word (``NameWord``), with its parameters; ("", []) when no word is
    that long (nothing to tell)."""
    words = [term for term in plan.terms if len(term) >= NAME_GUARD_MIN]
    if plan.phone or not words:
        return "", []
    probe = "EXISTS (SELECT 1 FROM contacts_nameword WHERE word >= %s AND word < %s AND live > 0)"
    return " AND ".join([probe] * len(words)), [v for w in words for v in (w, w + _LAST)]


def tiers(plan: Plan, *, live_only: bool) -> list[tuple[int, str, str | None]]:
    """Return (tier, FTS5 query, the query to run instead when ``names_guard`` is false)
    triples (the email tier is answered by ContactKey); the last is None where the guard
    does not apply.

    Only for a search of ``live_only`` contacts: the spelling index counts live ones.
    """
    guard = live_only and bool(names_guard(plan)[0])
    tiers: list[tuple[int, str, str | None]] = []
    if plan.phone:
        tiers.append((TIER_EXACT, _fts([plan.phone], column="search_phones", prefix=False), None))
    if plan.terms:
        names_word = _fts(plan.terms, column="search_names", prefix=False)
        names_prefix = _fts(plan.terms, column="search_names", prefix=True)
        any_prefix = _fts(plan.terms, column=None, prefix=True)
        tiers += [
            (TIER_NAME_WORD, names_word, NOTHING if guard else None),
            (TIER_NAME_PREFIX, f"{names_prefix} NOT {names_word}", NOTHING if guard else None),
            (TIER_ANY_PREFIX, f"{any_prefix} NOT {names_prefix}", any_prefix if guard else None),
        ]
    return tiers


def typo_tier(plan: Plan, fixes: dict[str, tuple[str, ...]]) -> str | None:
    """Return the FTS5 query of the typo tier: every word as typed (a prefix anywhere) or
    one of its corrections (a whole name word), not matching tier 3; None when no word of
    the query has a correction (``fixes``: ``search._corrections_counted``)."""
    if not fixes:
        return None
    words = []
    for term in plan.terms:
        typed = f'"{term}"*'
        if term in fixes:
            fixed = " OR ".join(f'"{word}"' for word in fixes[term])
            typed = f"({typed} OR search_names : ({fixed}))"
        words.append(typed)
    return f"({' AND '.join(words)}) NOT {_fts(plan.terms, column=None, prefix=True)}"
