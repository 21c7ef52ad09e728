"""SQLite's tiers: FTS5 queries over the ``contacts_contact_fts`` table (names, other
fields and phone digits in columns of their own)."""

from __future__ import annotations

from collections.abc import Sequence

from crmhub.contacts.search.plan import (
    TIER_ANY_PREFIX,
    TIER_EXACT,
    TIER_NAME_PREFIX,
    TIER_NAME_WORD,
    Plan,
)


def _fts(terms: Sequence[str], *, column: str | None, prefix: bool) -> str:
    star = "*" if prefix else ""
    body = " AND ".join(f'"{term}"{star}' for term in terms)
    return f"{column} : ({body})" if column else f"({body})"


def tiers(plan: Plan) -> list[tuple[int, str]]:
    """Return (tier, FTS5 query) pairs; the email tier is answered by ContactKey."""
    tiers = []
    if plan.phone:
        tiers.append((TIER_EXACT, _fts([plan.phone], column="search_phones", prefix=False)))
    if plan.terms:
        names_word = _fts(plan.terms, column="search_names", prefix=False)
        names_prefix = _fts(plan.terms, column="search_names", prefix=True)
        tiers += [
            (TIER_NAME_WORD, names_word),
            (TIER_NAME_PREFIX, f"{names_prefix} NOT {names_word}"),
            (TIER_ANY_PREFIX, f"{_fts(plan.terms, column=None, prefix=True)} NOT {names_prefix}"),
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
