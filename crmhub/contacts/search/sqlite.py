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
In the names column over live contacts, the completions are the live name words
(``NameWord``) instead: the index's terms also hold every email's words ("smith" starts
18,000 of them) and every company's, which made a name prefix too many to complete. The
name words also tell, in the statement, when a names tier finds nobody (a word of five
letters or more that is no name word; words that start no longer name word), so FTS5 is
not asked to read a company's word through 50,000 contacts to find it in no name.
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
#: The FTS5 text of a typed prefix, chosen in the statement: its completions (their
#: quotes: tokens never hold one) after a head (the word itself, or nothing), the word
#: alone when there are none, or the prefix as typed when they are too many. Read from
#: ``{source}`` (names and numbers of this module only; the words go as parameters).
_COMPLETED = (
    "(SELECT CASE WHEN count(*) > {most} THEN {many} WHEN count(*) = 0 THEN %s "
    "ELSE %s || group_concat('\"' || term || '\"', ' OR ') || ')' END "
    "FROM (SELECT {term} AS term FROM {source} WHERE {term} >= %s AND {term} < %s{live} "
    "LIMIT {most} + 1))"
)
#: The letters a term of the index holds: every column is written as ``normalize.words``.
_TERM_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"
#: Every term of the index (all columns). Too many to ask for one by one, they are asked
#: as the word itself (or, when it is no term, the first term that starts with it, if every
#: other starts with that one) or one of its prefixes a letter longer (``"wayne" OR
#: "wayne0"* OR ...``, the same terms): FTS5 then reads that term's doclist lazily, up to
#: the page, and only the longer terms' whole ("wayne" is the company of 50,000 contacts,
#: "wayne1001"... a few each: 0.4 ms for a page, against 2.8 ms read whole). Whether the
#: word is a term is asked of FTS5 (its first row), not of the vocabulary, which would count
#: its doclist. Otherwise, the prefix as typed. The split is made by SQLite from a template
#: (``_split_template``) with the term in place of ``char(1)``.
_INDEX_TERMS = (  # numbers of this module only; the words go as parameters
    f"(SELECT CASE WHEN n > {COMPLETIONS_MAX} THEN CASE "  # noqa: S608
    "WHEN EXISTS (SELECT 1 FROM contacts_contact_fts WHERE contacts_contact_fts MATCH %s) "
    "THEN replace(%s, char(1), %s) "
    "WHEN NOT EXISTS (SELECT 1 FROM contacts_contact_fts_vocab WHERE term >= first || %s "
    "AND term < %s) THEN replace(%s, char(1), first) "
    "ELSE %s END "
    "WHEN n = 0 THEN %s ELSE %s || terms || ')' END "
    "FROM (SELECT count(*) AS n, min(term) AS first, group_concat('\"' || term || '\"', ' OR ') "
    "AS terms FROM (SELECT term FROM contacts_contact_fts_vocab WHERE term >= %s AND term < %s "
    f"LIMIT {COMPLETIONS_MAX + 1})))"
)


def _split_template() -> str:
    """Return the FTS5 text of a term (``char(1)``) or any longer term."""
    return '("\x01" OR ' + " OR ".join(f'"\x01{letter}"*' for letter in _TERM_LETTERS) + ")"


#: The name words of live contacts (``NameWord``: five letters or more). A name word that
#: starts with a typed word of four letters or more is the word itself or one of them (and
#: of five letters or more, one of them): the index's own vocabulary also holds the words
#: of every email ("smith" starts 18,000 of them at a million contacts, "smith1234") and
#: of every company ("stark", 50,000 contacts' company and no name, read whole to find no
#: name among them).
_LIVE_NAME_WORDS = _COMPLETED.format(
    term="word", source="contacts_nameword", live=" AND live > 0", most=COMPLETIONS_MAX,
    many="%s",
)  # fmt: skip


class Match:
    """An FTS5 query as an SQL text expression: (sql, params) pieces joined with ``||``,
    literal parts bound as parameters and the completions of typed prefixes
    (``_COMPLETED``) with theirs."""

    def __init__(self, *parts: str | tuple[str, list[Any]] | Match) -> None:
        self.pieces: list[tuple[str, list[Any]]] = []
        for part in parts:
            if isinstance(part, Match):
                self.pieces += part.pieces
            elif isinstance(part, str):
                self.pieces.append(("%s", [part]))
            else:
                self.pieces.append(part)

    def __add__(self, other: str | Match) -> Match:
        return Match(self, other)

    def __radd__(self, other: str) -> Match:
        return Match(other, self)

    def sql(self) -> tuple[str, list[Any]]:
        """Return the SQL expression and its parameters (neighbouring literals as one)."""
        texts: list[str] = []
        params: list[Any] = []
        for text, values in self.pieces:
            if text == "%s" and texts and texts[-1] == "%s":
                params[-1] += values[0]
            else:
                texts.append(text)
                params += values
        return " || ".join(texts) or "''", params


def _word(term: str, *, prefix: bool, names: bool = False) -> str | tuple[str, list[Any]]:
    """Return the FTS5 text of a typed word: whole, or as a prefix; completed from the
    live contacts' name words (``names``: a query of the names column over live contacts
    only) or from the index's terms."""
    quoted = f'"{term}"'
    if not prefix:
        return quoted
    if len(term) < COMPLETIONS_MIN or not _PLAIN_WORD.fullmatch(term):
        return quoted + "*"
    if names and len(term) >= NAME_GUARD_MIN:  # the name words from the word itself on
        return _LIVE_NAME_WORDS, [quoted + "*", quoted, "(", term, term + _LAST]
    # Past the word itself ("\x01" sorts before every character a term holds): counting
    # its own doclist (fts5vocab) would read it.
    past = [quoted, f"({quoted} OR ", term + "\x01", term + _LAST]
    if names:
        return _LIVE_NAME_WORDS, [quoted + "*", *past]
    template = _split_template()
    many = [quoted, template, term, _LAST, term + _LAST, template, quoted + "*"]
    return _INDEX_TERMS, [*many, *past]


def _fts(terms: Sequence[str], *, column: str | None, prefix: bool, names: bool = False) -> Match:
    body = Match("(")
    for index, term in enumerate(terms):
        body += Match(" AND " if index else "", _word(term, prefix=prefix, names=names))
    body += ")"
    return f"{column} : " + body if column else body


#: The SQL condition true when a live contact's name word lies in [%s, %s).
_LIVE_NAME_WORD_IN = (
    "EXISTS (SELECT 1 FROM contacts_nameword WHERE word >= %s AND word < %s AND live > 0)"
)


def names_guard(plan: Plan) -> tuple[str, list[Any]]:
    """Return an SQL condition true when every typed word of five letters or more starts a
    live contact's name word (``NameWord``), with its parameters; ("", []) when no word is
    that long (nothing to tell)."""
    words = [term for term in plan.terms if len(term) >= NAME_GUARD_MIN]
    if plan.phone or not words:
        return "", []
    params = [value for word in words for value in (word, word + _LAST)]
    return " AND ".join([_LIVE_NAME_WORD_IN] * len(words)), params


def _unless(conditions: list[tuple[str, list[Any]]], match: Match) -> Match:
    """Return ``match``, or ``NOTHING`` when one of the SQL ``conditions`` holds: decided by
    SQLite in the statement (no statement more), before FTS5 reads anything."""
    if not conditions:
        return match
    match_sql, match_params = match.sql()
    when = " OR ".join(condition for condition, _ in conditions)
    params = [value for _, values in conditions for value in values]
    return Match(
        (f"CASE WHEN {when} THEN %s ELSE {match_sql} END", [*params, NOTHING, *match_params])
    )


def _not_a_name_word(term: str) -> tuple[str, list[Any]]:
    """The SQL condition true when no live contact's name holds the word ``term`` (five
    letters or more): the names column holds it nowhere FTS5 would find it."""
    return "NOT EXISTS (SELECT 1 FROM contacts_nameword WHERE word = %s AND live > 0)", [term]


def _starts_no_longer_name_word(term: str) -> tuple[str, list[Any]]:
    """The SQL condition true when no live contact's name word is longer than ``term`` (four
    letters or more) and starts with it: as a prefix of the names it finds what the word
    finds, nothing more."""
    return f"NOT {_LIVE_NAME_WORD_IN}", [term + "\x01", term + _LAST]


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
        # Over live contacts only, a name's prefix is completed from their name words.
        names_prefix = _fts(plan.terms, column="search_names", prefix=True, names=live_only)
        any_prefix = _fts(plan.terms, column=None, prefix=True)
        # Over live contacts, the name words (``NameWord``) tell when a names tier finds
        # nobody, before FTS5 reads a word that many contacts carry elsewhere ("stark",
        # a company's, in 50,000 contacts: read whole to find it in no name): the first
        # when a word of five letters or more is no name word; the second when every
        # word, of four letters or more, starts no longer name word.
        exact: list[tuple[str, list[Any]]] = []
        longer: list[tuple[str, list[Any]]] = []
        if live_only and not plan.phone:
            exact = [_not_a_name_word(term) for term in plan.terms if len(term) >= NAME_GUARD_MIN]
            if all(
                len(term) >= COMPLETIONS_MIN and _PLAIN_WORD.fullmatch(term) for term in plan.terms
            ):
                probes = [_starts_no_longer_name_word(term) for term in plan.terms]
                longer = [
                    (" AND ".join(sql for sql, _ in probes), [v for _, vs in probes for v in vs])
                ]
        tiers += [
            (TIER_NAME_WORD, _unless(exact, names_word), Match(NOTHING) if guard else None),
            (
                TIER_NAME_PREFIX,
                _unless(longer, names_prefix + " NOT " + names_word),
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
