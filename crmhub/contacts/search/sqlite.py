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

A typed word of four letters or more asked as a prefix (``"example"*``) is asked instead as
the word itself or one of the index's longer terms that start with it, when there are at
most ``COMPLETIONS_MAX`` of those (``("example" OR "examples")``): the same matches, but
FTS5 walks each term's doclist lazily, in rowid order, and stops at the page (0.02 ms for
the first 76 of 896,000 contacts whose email holds "example", against 28 ms read whole).
The terms are read from the index's vocabulary (``contacts_contact_fts_vocab``), inside the
same statement, starting past the word itself (counting its own doclist would read it).
"""

from __future__ import annotations

import re
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


#: A typed word this long or longer has no prefix index (``prefix='1 2 3'``): FTS5 expands
#: it into every term that starts with it and reads their doclists whole.
COMPLETIONS_MIN = 4
#: A word with at most this many longer terms in the index is asked as those terms.
COMPLETIONS_MAX = 16
#: Words whose terms in the index are themselves (the tokenizer folds nothing in them).
_PLAIN_WORD = re.compile(r"[a-z0-9]+")
#: The FTS5 text of a typed prefix, chosen in the statement: the word or its completions
#: (their quotes: tokens never hold one), or the prefix as typed when they are too many.
_COMPLETED = (  # numbers of this module only; the words go as parameters
    f"(SELECT CASE WHEN count(*) > {COMPLETIONS_MAX} THEN %s "  # noqa: S608
    "ELSE %s || coalesce(group_concat(' OR \"' || term || '\"', ''), '') || ')' END "
    "FROM (SELECT term FROM contacts_contact_fts_vocab WHERE term >= %s AND term < %s "
    f"LIMIT {COMPLETIONS_MAX + 1}))"
)


class Match:
    """An FTS5 query as an SQL text expression: literal parts (bound as parameters) and
    the completions of typed prefixes (``_COMPLETED``), joined with ``||``."""

    def __init__(self, *parts: str | tuple[str, list[Any]]) -> None:
        self.parts: list[str | tuple[str, list[Any]]] = []
        for part in parts:
            self._add(part)

    def _add(self, part: str | tuple[str, list[Any]] | Match) -> None:
        if isinstance(part, Match):
            for inner in part.parts:
                self._add(inner)
        elif isinstance(part, str) and self.parts and isinstance(self.parts[-1], str):
            self.parts[-1] += part
        else:
            self.parts.append(part)

    def __add__(self, other: str | Match) -> Match:
        joined = Match(*self.parts)
        joined._add(other)
        return joined

    def __radd__(self, other: str) -> Match:
        return Match(other) + self

    def sql(self) -> tuple[str, list[Any]]:
        """Return the SQL expression and its parameters."""
        texts, params = [], []
        for part in self.parts:
            if isinstance(part, str):
                texts.append("%s")
                params.append(part)
            else:
                texts.append(part[0])
                params += part[1]
        return " || ".join(texts) or "''", params

    def __str__(self) -> str:
        """The FTS5 query with every prefix as typed (for reading, and tests)."""
        return "".join(part if isinstance(part, str) else part[1][0] for part in self.parts)


def _word(term: str, *, prefix: bool) -> str | tuple[str, list[Any]]:
    if not prefix:
        return f'"{term}"'
    if len(term) < COMPLETIONS_MIN or not _PLAIN_WORD.fullmatch(term):
        return f'"{term}"*'
    # Past the word itself ("\x01" sorts before every character a term holds).
    return _COMPLETED, [f'"{term}"*', f'("{term}"', term + "\x01", term + _LAST]


def _fts(terms: Sequence[str], *, column: str | None, prefix: bool) -> Match:
    body = Match("(")
    for index, term in enumerate(terms):
        body += Match(" AND " if index else "", _word(term, prefix=prefix))
    body += ")"
    return f"{column} : " + body if column else body


def names_guard(plan: Plan) -> tuple[str, list[Any]]:
    """Return an SQL condition true when every typed word of five letters or more starts a
    live contact's name word (``NameWord``), with its parameters; ("", []) when no word is
    that long (nothing to tell)."""
    words = [term for term in plan.terms if len(term) >= NAME_GUARD_MIN]
    if plan.phone or not words:
        return "", []
    probe = "EXISTS (SELECT 1 FROM contacts_nameword WHERE word >= %s AND word < %s AND live > 0)"
    return " AND ".join([probe] * len(words)), [v for w in words for v in (w, w + _LAST)]


def tiers(plan: Plan, *, live_only: bool) -> list[tuple[int, Match, Match | None]]:
    """Return (tier, FTS5 query, the query to run instead when ``names_guard`` is false)
    triples (the email tier is answered by ContactKey); the last is None where the guard
    does not apply.

    Only for a search of ``live_only`` contacts: the spelling index counts live ones.
    """
    guard = live_only and bool(names_guard(plan)[0])
    tiers: list[tuple[int, Match, Match | None]] = []
    if plan.phone:
        tiers.append((TIER_EXACT, _fts([plan.phone], column="search_phones", prefix=False), None))
    if plan.terms:
        names_word = _fts(plan.terms, column="search_names", prefix=False)
        names_prefix = _fts(plan.terms, column="search_names", prefix=True)
        any_prefix = _fts(plan.terms, column=None, prefix=True)
        tiers += [
            (TIER_NAME_WORD, names_word, Match(NOTHING) if guard else None),
            (
                TIER_NAME_PREFIX,
                names_prefix + " NOT " + names_word,
                Match(NOTHING) if guard else None,
            ),
            (TIER_ANY_PREFIX, any_prefix + " NOT " + names_prefix, any_prefix if guard else None),
        ]
    return tiers


def typo_tier(plan: Plan, fixes: dict[str, tuple[str, ...]]) -> Match | None:
    """Return the FTS5 query of the typo tier: every word as typed (a prefix anywhere) or
    one of its corrections (a whole name word), not matching tier 3; None when no word of
    the query has a correction (``fixes``: ``search._corrections_counted``)."""
    if not fixes:
        return None
    body = Match("(")
    for index, term in enumerate(plan.terms):
        typed = Match(_word(term, prefix=True))
        if term in fixes:
            fixed = " OR ".join(f'"{word}"' for word in fixes[term])
            typed = "(" + typed + f" OR search_names : ({fixed}))"
        body += (" AND " if index else "") + typed
    return body + ") NOT " + _fts(plan.terms, column=None, prefix=True)
