"""The search engine behind ``contact_search``: a query's tiers, in SQL and in Python.

A match falls in the first tier that it satisfies; results come tier by tier, each tier
in contact-id order, which makes keyset pagination exact and every query bounded (no
ranking of every match of a broad prefix, see design.md "Search"):

0. exact: the email key, or the phone digits as a whole number;
1. every word of the query is a whole word of the name;
2. every word is the start of a word of the name;
3. every word is the start of a word anywhere (name, company, emails, phone digits);
4. one typo forgiven: each word as in tier 3, or a name word of five letters or more one
   typo away from it (a letter changed, two swapped, one missing or extra; found in the
   spelling index, ``spelling``), the same on both databases. (PostgreSQL's names close by
   trigrams are gone: at a million contacts hundreds of names are that close to a common
   one and pushed the person the typo meant off the page, and their index answers loosely:
   40,000 rows read for a five-letter word, 0.24 s.)

SQLite answers from an FTS5 table, PostgreSQL from a weighted ``tsvector`` (names A,
company and emails B, phones C) and one of the names alone; ``candidates`` hides which. The
typo tier runs only when the tiers above it leave the page short, so exact and prefix
searches never pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import connection as db

from crmhub.contacts import normalize, spelling
from crmhub.core.sqlite import memory_bounded

TIER_EXACT, TIER_NAME_WORD, TIER_NAME_PREFIX, TIER_ANY_PREFIX, TIER_FUZZY = range(5)
TIER_BROWSE = 9
MAX_TERMS = 8
#: How many contacts past the cursor a PostgreSQL tier reads in id order before it asks an
#: index for the rest (``add_windowed`` in ``candidates``), and the columns it reads: those
#: the tiers and filters test (the others would be read for nothing). Each contact read
#: costs about half a microsecond, paid by every tier a query reaches: a rare word's tiers
#: find nothing in it ("no hit" p95 at a million: 10.3 ms with 5,000, 4.9 ms with 1,000).
WINDOW = 1000
#: When the window holds at least ``DENSE`` matches (0.5% of its contacts) but less than a
#: page, matches are common enough that reading on in id order, up to ``FAR`` contacts, finds
#: the rest sooner than the index would ("jack jackgson": 71 of 76 in a window of 5,000, then
#: 14,442 rows read by the index for 5 more).
FAR = 20_000
DENSE = 5
#: A short prefix (two to four letters) is left out of a tier's index lookup when more than
#: ``SPREAD`` times as many names carry it as carry the query's rarest long word: GIN reads
#: the row id of every name a prefix starts, so "ma" (100,000 names) beside "feitstound" (3)
#: cost 21 ms where the rare word alone costs 0.1 ms. Two words of like counts ("kowalski
#: ja", 14,000 each) are cheaper looked up together (16 ms) than the one word's rows read
#: and tested (34 ms).
SPREAD = 8
_WINDOW_COLUMNS = ", ".join(
    f"c0.{column}"
    for column in (
        "id", "person_id", "search_vector", "deleted_at", "connection_id", "record_type",
    )
)  # fmt: skip
# The values bound to a statement's placeholders, as a database cursor takes them.
Params = list[Any]


@dataclass(frozen=True)
class Filters:
    """What narrows a search: CRMs (kinds), connections, record types, deleted or not."""

    kinds: tuple[str, ...] = ()
    connection_ids: tuple[int, ...] = ()
    record_types: tuple[str, ...] = ()
    include_deleted: bool = False


@dataclass(frozen=True)
class Plan:
    """A query, read: its folded words, and the email or phone it may be exactly."""

    terms: tuple[str, ...] = ()
    email: str | None = None
    phone: str | None = None
    browse: bool = False

    @property
    def empty(self) -> bool:
        return not (self.terms or self.email or self.phone or self.browse)


def plan_for(query: str) -> Plan:
    """Return how ``query`` is searched (blank: browse everything)."""
    text = (query or "").strip()
    if not text:
        return Plan(browse=True)
    phone = normalize.query_phone_digits(text)
    email = normalize.email_key(text)
    # An email's words are those before the "@": its domain ("example", "com") is shared by
    # half the index and would make every word tier walk it for nothing.
    typed = text.rpartition("@")[0] if email else text
    terms = (phone,) if phone else tuple(dict.fromkeys(normalize.words(typed)))[:MAX_TERMS]
    return Plan(terms=terms, email=email, phone=phone)


# -- Python: the tier of one contact (the same rules as the SQL) -----------------------------
def _all_in(terms: Sequence[str], tokens: Sequence[str], *, prefix: bool) -> bool:
    if prefix:
        return all(any(token.startswith(term) for token in tokens) for term in terms)
    return all(term in tokens for term in terms)


def tier_of(
    plan: Plan,
    *,
    names: str,
    other: str,
    phones: str,
    email_keys: Sequence[str],
    fixes: Mapping[str, Sequence[str]] | None = None,
) -> int:
    """Return the tier a contact with these search columns falls in (-1: no match). The
    typo tier needs the corrections the search looked up (``fixes``; without them a
    contact found only by a typo is no match)."""
    if plan.browse:
        return TIER_BROWSE
    phone_tokens = phones.split()
    if (plan.email and plan.email in email_keys) or (plan.phone and plan.phone in phone_tokens):
        return TIER_EXACT
    if not plan.terms:
        return -1
    name_tokens = names.split()
    if _all_in(plan.terms, name_tokens, prefix=False):
        return TIER_NAME_WORD
    if _all_in(plan.terms, name_tokens, prefix=True):
        return TIER_NAME_PREFIX
    tokens = name_tokens + other.split() + phone_tokens
    if _all_in(plan.terms, tokens, prefix=True):
        return TIER_ANY_PREFIX
    if fixes and all(
        any(token.startswith(term) for token in tokens)
        or any(word in name_tokens for word in fixes.get(term, ()))
        for term in plan.terms
    ):
        return TIER_FUZZY  # every word as typed (anywhere) or corrected (a name word)
    return -1


# -- SQL -------------------------------------------------------------------------------------
def _filters_sql(filters: Filters) -> tuple[str, Params]:
    clauses: list[str] = []
    params: Params = []
    if not filters.include_deleted:
        clauses.append("c.deleted_at IS NULL")
    if filters.connection_ids:
        clauses.append(f"c.connection_id IN ({', '.join(['%s'] * len(filters.connection_ids))})")
        params.extend(filters.connection_ids)
    if filters.kinds:
        marks = ", ".join(["%s"] * len(filters.kinds))
        clauses.append(
            "c.connection_id IN (SELECT id FROM connections_connection "  # noqa: S608
            f"WHERE kind IN ({marks}))"  # placeholders only: the values go as parameters
        )
        params.extend(filters.kinds)
    if filters.record_types:
        clauses.append(f"c.record_type IN ({', '.join(['%s'] * len(filters.record_types))})")
        params.extend(filters.record_types)
    return "".join(f" AND {clause}" for clause in clauses), params


def _fts(terms: Sequence[str], *, column: str | None, prefix: bool) -> str:
    star = "*" if prefix else ""
    body = " AND ".join(f'"{term}"{star}' for term in terms)
    return f"{column} : ({body})" if column else f"({body})"


def _sqlite_tiers(plan: Plan) -> list[tuple[int, str]]:
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


def _corrections_counted(plan: Plan) -> tuple[dict[str, tuple[str, ...]], dict[str, int]]:
    """Return the corrections of the query's words (none for an email or a phone: a typed
    address or number has no name word to correct), and how many live contacts carry each
    correction."""
    if plan.phone or plan.email or not plan.terms:
        return {}, {}
    return spelling.corrections_counted(plan.terms)


def _sqlite_typo_tier(plan: Plan, fixes: dict[str, tuple[str, ...]]) -> str | None:
    """Return the FTS5 query of the typo tier: every word as typed (a prefix anywhere) or
    one of its corrections (a whole name word), not matching tier 3; None when no word of
    the query has a correction (``fixes``: ``_corrections_counted``)."""
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


def _ts(terms: Sequence[str], *, weight: str = "", prefix: bool) -> str:
    star = ":*" if prefix else ":"
    suffix = f"{star}{weight}" if (prefix or weight) else ""
    return "(" + " & ".join(f"'{term}'{suffix}" for term in terms) + ")"


_TS_MATCH = "c.search_vector @@ to_tsquery('simple', %s)"
#: The same test as a function call, which no index answers: a tier's exact condition (with
#: weights and negations) is checked on the rows its lookup found. As an operator the
#: planner gave it to the GIN index too, and a negation there reads the whole index.
_TS_TEST = "ts_match_vq(c.search_vector, to_tsquery('simple', %s))"
#: The names alone, as their own GIN index (migration 0007) has them: ``search_vector``'s
#: index cannot tell a name word from the same word in a company (weights are checked on
#: the row), so "Soylent" asked of the names read every Soylent employee's row.
_NAMES_MATCH = "to_tsvector('simple'::regconfig, c.search_names) @@ to_tsquery('simple', %s)"


class PgTier(NamedTuple):
    """One PostgreSQL tier: its condition, and one that an index answers without reading
    rows and that the condition implies (to find the matches past ``WINDOW``)."""

    tier: int
    where: str
    params: Params
    lookup: str
    lookup_params: Params


def _long(terms: Sequence[str]) -> Sequence[str]:
    """Return the terms an index looks up as prefixes at little cost: those of two letters
    or more when there are some (every word starting with "o" is a long read of the GIN
    index, and the tier's condition checks the single letters on the rows found anyway;
    two letters narrow a common name's thousands of rows enough to be worth reading)."""
    return [term for term in terms if len(term) >= 2] or terms


def name_counts(plan: Plan) -> dict[str, int]:
    """Return how many names carry each looked-up term as a prefix
    (``spelling.prefix_counts``) when there are terms to weigh against a long one
    (``_lookup``); else nothing, without a query."""
    terms = _long(plan.terms)
    weighable = len(terms) > 1 and any(len(term) >= spelling.MIN_WORD for term in terms)
    return spelling.prefix_counts(terms) if weighable and not plan.phone else {}


def _lookup(
    terms: Sequence[str],
    counts: dict[str, int],
    *,
    anywhere: bool,
    email: bool = False,
    fixes: dict[str, tuple[str, ...]] | None = None,
    fix_counts: dict[str, int] | None = None,
) -> list[str]:
    """Return the terms a tier's index lookup asks for (``_long``), leaving out each one
    that more than ``SPREAD`` times as many names carry as the rarest long term (the names
    starting with it, and with its corrections, ``fixes``: exact for a long term, a lower
    bound for a short one, so the comparison errs towards keeping a short one).

    ``anywhere`` (a tier over every field): a long word no name carries may still be common
    in companies, so it is kept and is not the rarest; but in a typed ``email`` a word of
    letters and digits ("martinez12857") no name carries is taken as rare (one contact).
    """
    looked_up = list(_long(terms))
    if not counts or len(looked_up) < 2:
        return looked_up

    def carried(term: str) -> int:
        fixed = (fixes or {}).get(term, ())
        return counts.get(term, 0) + sum((fix_counts or {}).get(word, 0) for word in fixed)

    weights: dict[str, int] = {}
    for term in looked_up:
        weight = carried(term)
        if len(term) >= spelling.MIN_WORD and anywhere and weight == 0:
            mixed = email and not term.isalpha() and not term.isdigit()
            if not mixed:
                continue  # unknown outside the names: kept, never the rarest
            weight = 1
        weights[term] = weight
    rare = [term for term in weights if len(term) >= spelling.MIN_WORD]
    if not rare:
        return looked_up
    rarest = min(rare, key=weights.__getitem__)
    bound = SPREAD * max(1, weights[rarest])
    return [term for term in looked_up if term == rarest or weights.get(term, 0) <= bound]


def _postgres_tiers(plan: Plan, counts: dict[str, int]) -> list[PgTier]:
    """Return the tiers over the generated ``search_vector`` (``counts``: ``name_counts``)."""
    tiers: list[PgTier] = []
    if plan.phone:
        digits = _ts([plan.phone], prefix=False)
        weighted = _ts([plan.phone], weight="C", prefix=False)
        tiers.append(PgTier(TIER_EXACT, _TS_TEST, [weighted], _TS_MATCH, [digits]))
    if plan.terms:
        names_word = _ts(plan.terms, weight="A", prefix=False)
        names_prefix = _ts(plan.terms, weight="A", prefix=True)
        any_prefix = _ts(plan.terms, prefix=True)
        email = plan.email is not None
        names_lookup = _ts(_lookup(plan.terms, counts, anywhere=False), prefix=True)
        any_lookup = _ts(_lookup(plan.terms, counts, anywhere=True, email=email), prefix=True)
        tiers += [
            PgTier(TIER_NAME_WORD, _TS_TEST, [names_word],
                   _NAMES_MATCH, [_ts(plan.terms, prefix=False)]),
            PgTier(TIER_NAME_PREFIX, _TS_TEST, [f"{names_prefix} & !{names_word}"],
                   _NAMES_MATCH, [names_lookup]),
            PgTier(TIER_ANY_PREFIX, _TS_TEST, [f"{any_prefix} & !{names_prefix}"],
                   _TS_MATCH, [any_lookup]),
        ]  # fmt: skip
    return tiers


def _corrected(
    terms: Sequence[str], fixes: dict[str, tuple[str, ...]], *, weight: str = "A"
) -> str:
    """Return the tsquery of every word as typed (a prefix anywhere) or one of its
    corrections (a whole name word; a whole word anywhere without ``weight``)."""
    mark = f":{weight}" if weight else ""
    words = []
    for term in terms:
        fixed = "".join(f" | '{word}'{mark}" for word in fixes.get(term, ()))
        words.append(f"('{term}':*{fixed})")
    return " & ".join(words)


def _postgres_typo_tier(
    plan: Plan,
    counts: dict[str, int],
    fixes: dict[str, tuple[str, ...]],
    fix_counts: dict[str, int],
) -> PgTier | None:
    """Return the typo tier: every word as typed or one of its corrections (``fixes``, each
    carried by ``fix_counts`` live contacts), not matching the tiers above it (None when no
    word of the query has a correction)."""
    if not fixes:
        return None
    corrected = _corrected(plan.terms, fixes)
    where = f"{_TS_TEST} AND NOT {_TS_TEST}"
    params = [corrected, _ts(plan.terms, prefix=True)]
    terms = _lookup(plan.terms, counts, anywhere=True, fixes=fixes, fix_counts=fix_counts)
    lookup = _corrected(terms, fixes, weight="")
    return PgTier(TIER_FUZZY, where, params, _TS_MATCH, [lookup])


Candidate = tuple[int, int, "int | None"]
_LIMITS = re.compile(r" LIMIT \d+")
#: Sub-queries read to their end (fewer rows than their limit), by statement without its
#: limit and parameters: asked again with a larger limit, they would give the same rows.
Complete = dict[tuple[str, str], list[Candidate]]
#: A tier's sub-query: its tier, statement, parameters and the question it asks (the key of
#: ``Complete``: the same for a page and a count).
Part = tuple[int, str, Params, tuple[str, str]]


def candidates(
    plan: Plan,
    filters: Filters,
    *,
    after: tuple[int, int] | None,
    limit: int,
    complete: Complete | None = None,
    ordered: bool = True,
    corrections: dict[str, tuple[str, ...]] | None = None,
) -> list[list[Candidate]]:
    """Return, per sub-query, up to ``limit`` (tier, id, person) rows past ``after``.

    Not ``ordered`` (a count: any ``limit`` matches of a tier tell as much as the first
    ones), PostgreSQL takes each tier's matches straight from its index, in no order.

    Each sub-query walks one tier in id order from the cursor, and stops at ``limit``.
    Tiers run best first, one statement each, and stop once a tier fills the page: the
    later ones cannot come before it (a broad prefix never pays for the tiers below the
    page). At most one statement per tier, whatever the data (and one lookup of the
    spelling index before the typo tier; on PostgreSQL, one count of the names starting
    with the query's words first when it has long and short ones: ``_lookup``).
    ``complete`` (filled here) holds the sub-queries
    read to their end; a tier whose sub-queries are all there is not run again (a count
    after the first page of the same search).
    """
    filter_sql, filter_params = _filters_sql(filters)
    parts: list[Part] = []

    def add(tier: int, source: str, order: str, where: str, where_params: Params) -> None:
        """Add one tier's sub-query; ``order`` is the id column its index walks in order
        (ordering by another alias of it makes SQLite sort every match first)."""
        if after is not None and tier < after[0]:
            return
        bound = f" AND {order} > {int(after[1])}" if after is not None and after[0] == tier else ""
        sql = (  # identifiers and numbers of this module only; values go as parameters
            f"SELECT {tier} AS tier, {order} AS id, c.person_id FROM {source} "  # noqa: S608
            f"WHERE {where}{bound}{filter_sql} ORDER BY {order} LIMIT {int(limit)}"
        )
        params = where_params + filter_params
        parts.append((tier, sql, params, (_LIMITS.sub("", sql), repr(params))))

    def add_windowed(pg: PgTier) -> None:
        """Add one PostgreSQL tier's sub-query, at a bounded cost whatever the planner
        guesses: the ``WINDOW`` contacts after the cursor are read in id order and tested;
        when they hold less than a page but at least ``DENSE`` of one, the next ``FAR``
        too; only then are the matches past them looked up in an index (they are few),
        and sorted. One statement: each part runs only when those before it fell short."""
        if after is not None and pg.tier < after[0]:
            return
        start = int(after[1]) if after is not None and after[0] == pg.tier else 0
        # The question, whatever the statement: a count and a page ask a tier the same one.
        key = (f"{pg.tier} {start} {pg.where}{filter_sql}", repr(pg.params + filter_params))
        if not ordered:
            sql = (  # identifiers and numbers of this module only; values go as parameters
                f"SELECT {pg.tier} AS tier, c.id AS id, c.person_id "  # noqa: S608
                f"FROM contacts_contact c WHERE {pg.lookup} AND {pg.where}{filter_sql} "
                f"AND c.id > {start} LIMIT {int(limit)}"
            )
            parts.append((pg.tier, sql, pg.lookup_params + pg.params + filter_params, key))
            return

        # identifiers and numbers of this module only; values go as parameters
        def walk(after_sql: str, rows: int) -> str:
            return (
                f"SELECT {_WINDOW_COLUMNS} FROM contacts_contact c0 "  # noqa: S608
                f"WHERE c0.id > {after_sql} ORDER BY c0.id LIMIT {rows}"
            )

        def last(rows: int) -> str:
            return f"(SELECT max(w.id) FROM ({walk(str(start), rows)}) w)"  # noqa: S608

        columns = f"{pg.tier} AS tier, c.id AS id, c.person_id"
        test = f"{pg.where}{filter_sql}"
        dense = f"(SELECT count(*) FROM early) >= {max(1, min(int(limit), DENSE))}"  # noqa: S608
        sql = (
            f"WITH early AS MATERIALIZED (SELECT {columns} "  # noqa: S608
            f"FROM ({walk(str(start), WINDOW)}) c WHERE {test} ORDER BY c.id LIMIT {int(limit)}) "
            f"SELECT * FROM early UNION ALL "
            f"SELECT * FROM (SELECT {columns} FROM ({walk(last(WINDOW), FAR)}) c "
            f"WHERE {test} AND {dense} ORDER BY c.id LIMIT {int(limit)}) AS middle UNION ALL "
            f"SELECT * FROM (SELECT {columns} FROM contacts_contact c "
            f"WHERE {pg.lookup} AND {test} AND c.id + 0 > "
            f"(CASE WHEN {dense} THEN {last(WINDOW + FAR)} ELSE {last(WINDOW)} END) "
            f"ORDER BY c.id + 0 LIMIT {int(limit)}) AS later LIMIT {int(limit)}"
        )
        params = pg.params + filter_params
        parts.append((pg.tier, sql, params + params + pg.lookup_params + params, key))

    if plan.browse:
        add(TIER_BROWSE, "contacts_contact c", "c.id", "1 = 1", [])
    if plan.email:
        add(
            TIER_EXACT,
            "contacts_contactkey k JOIN contacts_contact c ON c.id = k.contact_id",
            "k.contact_id",
            "k.type = 'email' AND k.value = %s",
            [plan.email],
        )

    def add_fts(tier: int, match: str) -> None:
        add(
            tier,
            "contacts_contact_fts f JOIN contacts_contact c ON c.id = f.rowid",
            "f.rowid",
            "contacts_contact_fts MATCH %s",
            [match],
        )

    postgres = db.vendor == "postgresql"
    counts = name_counts(plan) if postgres else {}
    if postgres:
        for pg_tier in _postgres_tiers(plan, counts):
            add_windowed(pg_tier)
    else:
        for tier, match in _sqlite_tiers(plan):
            add_fts(tier, match)
    groups, filled = _run(parts, limit, complete)
    if filled or not plan.terms or (after is not None and after[0] > TIER_FUZZY):
        return groups
    parts.clear()  # the typo tiers, looked up only now that the page needs them
    fixes, fix_counts = _corrections_counted(plan)
    if corrections is not None:
        corrections.update(fixes)
    if postgres and (pg_typo := _postgres_typo_tier(plan, counts, fixes, fix_counts)) is not None:
        add_windowed(pg_typo)
    elif not postgres and (fts_typo := _sqlite_typo_tier(plan, fixes)) is not None:
        add_fts(TIER_FUZZY, fts_typo)
    return groups + _run(parts, limit, complete)[0] if parts else groups


def _run(
    parts: list[Part], limit: int, complete: Complete | None = None
) -> tuple[list[list[Candidate]], bool]:
    """Run the tiers' sub-queries best tier first (the exact tier's two in one statement);
    return their candidates and whether a tier filled the page. A tier whose sub-queries
    are all in ``complete`` (with fewer rows than ``limit``) is taken from there; those
    read to their end are put there."""
    by_tier: dict[int, list[tuple[str, Params, tuple[str, str]]]] = {}
    for tier, sql, params, key in parts:
        by_tier.setdefault(tier, []).append((sql, params, key))
    groups: list[list[Candidate]] = []
    known = {} if complete is None else complete
    with db.cursor() as cursor:
        for tier in sorted(by_tier):
            queries = by_tier[tier]
            keys = [key for _, _, key in queries]
            if all(key in known and len(known[key]) < limit for key in keys):
                groups += [list(known[key]) for key in keys]
                continue
            sql = " UNION ALL ".join(
                f"SELECT * FROM (SELECT {index} AS src, q.* FROM ({query}) AS q) AS s{index}"  # noqa: S608
                for index, (query, _, _) in enumerate(queries)
            )
            cursor.execute(sql, [param for _, params, _ in queries for param in params])
            found: list[list[Candidate]] = [[] for _ in queries]
            for src, row_tier, pk, person in cursor.fetchall():
                found[int(src)].append((int(row_tier), int(pk), person))
            for group in found:  # a windowed tier's two halves come in either order
                group.sort()
            known.update(
                (key, rows) for key, rows in zip(keys, found, strict=True) if len(rows) < limit
            )
            groups += found
            if any(len(group) >= limit for group in found):
                return groups, True  # this tier fills the page: nothing below it comes first
    return groups, False


#: A sync that wrote at least this many contacts merges SQLite's full-text index after it.
COMPACT_MIN_WRITTEN = 10_000


def search_index_compact(*, written: int) -> bool:
    """Merge SQLite's full-text index into one segment after ``written`` contacts were
    written (at least ``COMPACT_MIN_WRITTEN``); return whether it did.

    Every transaction of a sync leaves the full-text index a new segment, and FTS5 merges
    them only so far (``automerge``, tuned for cheap writes), so after a large sync a query
    looks each word up in dozens of segments. One merge costs ~2 s at a million contacts and
    halves the slow queries' time (``manage.py bench --section search``). It reads the
    whole index once: with SQLite's memory held down (``memory_bounded``). PostgreSQL's GIN
    index keeps itself (its pending list is merged by autovacuum): nothing to do there.
    """
    if db.vendor != "sqlite" or written < COMPACT_MIN_WRITTEN:
        return False
    with memory_bounded(), db.cursor() as cursor:
        cursor.execute("INSERT INTO contacts_contact_fts(contacts_contact_fts) VALUES ('optimize')")
    return True
