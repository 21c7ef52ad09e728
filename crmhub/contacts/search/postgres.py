"""PostgreSQL's tiers: tests over the weighted ``search_vector`` (names A, company and
emails B, phones C), found by its GIN index or by that of the names alone, each tier a
statement of bounded cost whatever the planner guesses (``windowed``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from crmhub.contacts import spelling
from crmhub.contacts.search.plan import (
    TIER_ANY_PREFIX,
    TIER_EXACT,
    TIER_FUZZY,
    TIER_NAME_PREFIX,
    TIER_NAME_WORD,
    Params,
    Plan,
)

#: How many contacts past the cursor a PostgreSQL tier reads in id order before it asks an
#: index for the rest (``windowed``), and the columns it reads: those
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
#: A count (any ``limit`` matches of a tier, in no order) reads on in id order, up to
#: ``COUNT_FAR`` contacts, when the window holds at least ``COUNT_DENSE`` matches and the
#: tier's lookup is of prefixes: such a lookup reads the row id of every match of the tier,
#: however few the count needs ("acme" in companies, 49,000 contacts: 70-110 ms for 1,001 of
#: them; the 20,000 contacts that hold them, read in id order: ~20 ms).
COUNT_FAR = 35_000
COUNT_DENSE = 35
#: A short prefix (two to four letters) is left out of a tier's index lookup when more than
#: ``SPREAD`` times as many names carry it as carry the query's rarest long word: GIN reads
#: the row id of every name a prefix starts, so "ma" (100,000 names) beside "feitstound" (3)
#: cost 21 ms where the rare word alone costs 0.1 ms. Two words of like counts ("kowalski
#: ja", 14,000 each) are cheaper looked up together (16 ms) than the one word's rows read
#: and tested (34 ms).
SPREAD = 8
#: A tier looks up the rarest long word of its query alone when at most ``TESTED`` names
#: carry it: testing that many rows (~2.4 microseconds each) costs less than a common
#: short word's index entries would ("omar bakre": 'omar':* read 20,000 row ids, 4.5 ms,
#: beside the 7 names starting with "bakre").
TESTED = 500
#: A condition always true that calls a function PostgreSQL may not run in a parallel
#: worker (``current_schema``, marked parallel unsafe), which keeps it from planning a
#: tier's statement over workers: the index part of a windowed tier, its rows guessed
#: many, was planned over two workers (39 of the search bench's 250 queries), whose start
#: cost more than the work they shared (a count of "ren": 118 ms, 17 ms of it the lookup).
_SERIAL = "current_schema() IS NOT NULL"
#: ``name_counts``' count of a term that starts no word of any contact.
NOWHERE = spelling.NOWHERE
#: Whether a term (the parameter) starts a word of any contact: names, company, emails,
#: phones; deleted contacts too. Asked of the terms no name starts (``name_counts``), in
#: the statement that counts the names: an absent word is a few index entries to read
#: ("nyelson", a typo: 0.05 ms), and PostgreSQL reads the table in order for a word its
#: statistics call common (a company's: "globex", 5% of contacts, found in a dozen rows).
#: (The first match in id order, of bounded cost whatever the planner guesses, made the
#: statement's cost estimate high enough to be compiled, 6 ms, even when it did not run.)
_ANYWHERE = (
    "EXISTS (SELECT FROM contacts_contact c "
    "WHERE c.search_vector @@ to_tsquery('simple', quote_literal(%s) || ':*'))"
)
_WINDOW_COLUMNS = ", ".join(
    f"c0.{column}"
    for column in (
        "id", "person_id", "search_vector", "deleted_at", "connection_id", "record_type",
    )
)  # fmt: skip


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


def long_terms(terms: Sequence[str]) -> Sequence[str]:
    """Return the terms an index looks up as prefixes at little cost: those of two letters
    or more when there are some (every word starting with "o" is a long read of the GIN
    index, and the tier's condition checks the single letters on the rows found anyway;
    two letters narrow a common name's thousands of rows enough to be worth reading)."""
    return [term for term in terms if len(term) >= 2] or terms


def name_counts(plan: Plan, known: dict[str, int] | None = None) -> dict[str, int]:
    """Return how many names carry each looked-up term as a prefix
    (``spelling.prefix_counts``) when there are terms to weigh against each other
    (``lookup_terms``); else nothing, without a query. A term no indexed name starts
    that starts no word of any contact either (``_ANYWHERE``: a typo, mostly) counts
    ``NOWHERE``, except in a typed email (its words are not corrected, and one of them is
    mostly a word no name carries: "wilson1018").
    ``known``: counts already read (a first page's, for its count), taken as they are when
    they hold every term, and filled with those read."""
    terms = long_terms(plan.terms)
    if len(terms) < 2 or plan.phone:
        return {}
    if known is not None and all(term in known for term in terms):
        return {term: known[term] for term in terms}
    counts = spelling.prefix_counts(terms, unnamed="" if plan.email else _ANYWHERE)
    if known is not None:
        known.update(counts)
    return counts


def lookup_terms(
    terms: Sequence[str],
    counts: dict[str, int],
    *,
    anywhere: bool,
    email: bool = False,
    fixes: dict[str, tuple[str, ...]] | None = None,
    fix_counts: dict[str, int] | None = None,
) -> list[str]:
    """Return the terms a tier's index lookup asks for (``long_terms``), leaving out each one
    that more than ``SPREAD`` times as many names carry as the rarest long term (the names
    starting with it, and with its corrections, ``fixes``: exact for a long term, a lower
    bound for a short one, so the comparison errs towards keeping a short one).

    ``anywhere`` (a tier over every field): a long word no name carries may still be common
    in companies, so it is kept and is not the rarest; but in a typed ``email`` a word of
    letters and digits ("martinez12857") no name carries is taken as rare (one contact).
    Not ``anywhere``, the rarest long term is looked up alone when at most ``TESTED`` names
    carry it, whatever a short term's count says (a lower bound: "omar", 20,000 names,
    counts 0).
    """
    looked_up = list(long_terms(terms))
    if not counts or len(looked_up) < 2:
        return looked_up

    def carried(term: str) -> int:
        fixed = (fixes or {}).get(term, ())
        named = max(0, counts.get(term, 0))  # NOWHERE: none
        return named + sum((fix_counts or {}).get(word, 0) for word in fixed)

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
    if not anywhere and weights[rarest] <= TESTED:
        return [rarest]
    bound = SPREAD * max(1, weights[rarest])
    return [term for term in looked_up if term == rarest or weights.get(term, 0) <= bound]


def tiers(plan: Plan, counts: dict[str, int]) -> list[PgTier]:
    """Return the tiers over the generated ``search_vector`` (``counts``: ``name_counts``):
    none of words when one of them starts no word of any contact (``NOWHERE``)."""
    tiers: list[PgTier] = []
    if plan.phone:
        digits = _ts([plan.phone], prefix=False)
        weighted = _ts([plan.phone], weight="C", prefix=False)
        tiers.append(PgTier(TIER_EXACT, _TS_TEST, [weighted], _TS_MATCH, [digits]))
    if plan.terms and NOWHERE not in counts.values():
        names_word = _ts(plan.terms, weight="A", prefix=False)
        names_prefix = _ts(plan.terms, weight="A", prefix=True)
        any_prefix = _ts(plan.terms, prefix=True)
        email = plan.email is not None
        names_lookup = _ts(lookup_terms(plan.terms, counts, anywhere=False), prefix=True)
        any_lookup = _ts(lookup_terms(plan.terms, counts, anywhere=True, email=email), prefix=True)
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
    terms: Sequence[str],
    fixes: dict[str, tuple[str, ...]],
    *,
    weight: str = "A",
    nowhere: Sequence[str] = (),
) -> str:
    """Return the tsquery of every word as typed (a prefix anywhere; not for the words
    ``nowhere``) or one of its corrections (a whole name word; a whole word anywhere
    without ``weight``)."""
    mark = f":{weight}" if weight else ""
    words = []
    for term in terms:
        typed = [] if term in nowhere else [f"'{term}':*"]
        fixed = [f"'{word}'{mark}" for word in fixes.get(term, ())]
        words.append("(" + " | ".join(typed + fixed) + ")")
    return " & ".join(words)


def typo_tier(
    plan: Plan,
    counts: dict[str, int],
    fixes: dict[str, tuple[str, ...]],
    fix_counts: dict[str, int],
) -> PgTier | None:
    """Return the typo tier: every word as typed or one of its corrections (``fixes``, each
    carried by ``fix_counts`` live contacts), not matching the tiers above it (None when no
    word of the query has a correction, or a word that starts no word of any contact has
    none: ``NOWHERE``, only its corrections are asked for)."""
    nowhere = [term for term in plan.terms if counts.get(term) == NOWHERE]
    if not fixes or any(term not in fixes for term in nowhere):
        return None
    corrected = _corrected(plan.terms, fixes, nowhere=nowhere)
    where = f"{_TS_TEST} AND NOT {_TS_TEST}"
    params = [corrected, _ts(plan.terms, prefix=True)]
    terms = lookup_terms(plan.terms, counts, anywhere=True, fixes=fixes, fix_counts=fix_counts)
    lookup = _corrected(terms, fixes, weight="", nowhere=nowhere)
    return PgTier(TIER_FUZZY, where, params, _TS_MATCH, [lookup])


def windowed(
    pg: PgTier,
    *,
    start: int,
    limit: int,
    filter_sql: str,
    filter_params: Params,
    ordered: bool,
    spare: int = 0,
) -> tuple[str, Params]:
    """Return one tier's statement past the contact id ``start``, at a bounded cost whatever
    the planner guesses: the ``WINDOW`` contacts after the cursor are read in id order and
    tested; when they hold less than a page but at least ``DENSE`` matches, the next ``FAR``
    too; only then are the matches past them looked up in an index (they are few), and
    sorted. One statement: each part runs only when those before it fell short. Not
    ``ordered`` (a count), the tier's matches come straight from its index, in no order.

    ``spare`` (more than ``limit``): the index part, when it runs, gives up to ``spare``
    more rows than the page lacks. It reads and sorts every match past the windows either
    way, so a page whose tier is filled there learns for little more all of the tier's
    matches when they are fewer than ``spare``, and its count need not look them up again
    (``search._run``: more than ``limit`` rows and fewer than ``spare`` are every match past
    ``start``)."""

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
    params = pg.params + filter_params
    if not ordered:
        # Whole words are cheap to look up (a prefix reads a set of words then every row id
        # of each): their matches are always taken from the index past the window.
        prefixes = any(":*" in str(param) for param in pg.lookup_params)
        least = max(1, min(int(limit), COUNT_DENSE)) if prefixes else int(limit) + 1
        dense = f"(SELECT count(*) FROM early) >= {least}"  # noqa: S608
        # The walks stop at ``limit`` matches; when the lookup runs, they read their
        # ranges to the end, and past their last match there is none up to where they
        # stopped: the lookup starts after it (not after an id found by walking again).
        sql = (
            f"WITH early AS MATERIALIZED (SELECT {columns} "  # noqa: S608
            f"FROM ({walk(str(start), WINDOW)}) c WHERE {test} LIMIT {int(limit)}), "
            f"middle AS MATERIALIZED (SELECT {columns} "
            f"FROM ({walk(last(WINDOW), COUNT_FAR)}) c WHERE {test} AND {dense} "
            f"LIMIT {int(limit)}) "
            f"SELECT * FROM early UNION ALL SELECT * FROM middle UNION ALL "
            f"SELECT * FROM (SELECT {columns} FROM contacts_contact c "
            f"WHERE {pg.lookup} AND {test} AND {_SERIAL} AND c.id + 0 > (CASE WHEN {dense} THEN "
            f"coalesce((SELECT max(id) FROM middle), {last(WINDOW)}) ELSE {last(WINDOW)} "
            f"END) LIMIT {int(limit)}) AS later LIMIT {int(limit)}"
        )
        return sql, params + params + pg.lookup_params + params
    dense = f"(SELECT count(*) FROM early) >= {max(1, min(int(limit), DENSE))}"  # noqa: S608
    if spare > limit:
        # The middle walk as a set of its own (it stops where the page is full, as below),
        # and the index part only when the walks fell short: then nothing bounds its rows
        # but the whole statement's limit. (Limited there, not in the index part, its cost
        # is guessed a fraction of what it would be if read to its end, as below: guessed
        # whole, it could pass ``jit_above_cost`` and be compiled, 20 ms.)
        short = f"(SELECT count(*) FROM early) + (SELECT count(*) FROM middle) < {int(limit)}"  # noqa: S608
        sql = (
            f"WITH early AS MATERIALIZED (SELECT {columns} "  # noqa: S608
            f"FROM ({walk(str(start), WINDOW)}) c WHERE {test} ORDER BY c.id LIMIT {int(limit)}), "
            f"middle AS MATERIALIZED (SELECT {columns} FROM ({walk(last(WINDOW), FAR)}) c "
            f"WHERE {test} AND {dense} ORDER BY c.id "
            f"LIMIT (SELECT {int(limit)} - count(*) FROM early)) "
            f"SELECT * FROM early UNION ALL SELECT * FROM middle UNION ALL "
            f"SELECT * FROM (SELECT {columns} FROM contacts_contact c "
            f"WHERE {pg.lookup} AND {test} AND {_SERIAL} AND {short} AND c.id + 0 > "
            f"(CASE WHEN {dense} THEN {last(WINDOW + FAR)} ELSE {last(WINDOW)} END) "
            f"ORDER BY c.id + 0) AS later LIMIT {int(limit) + int(spare)}"
        )
        return sql, params + params + pg.lookup_params + params
    sql = (
        f"WITH early AS MATERIALIZED (SELECT {columns} "  # noqa: S608
        f"FROM ({walk(str(start), WINDOW)}) c WHERE {test} ORDER BY c.id LIMIT {int(limit)}) "
        f"SELECT * FROM early UNION ALL "
        f"SELECT * FROM (SELECT {columns} FROM ({walk(last(WINDOW), FAR)}) c "
        f"WHERE {test} AND {dense} ORDER BY c.id LIMIT {int(limit)}) AS middle UNION ALL "
        f"SELECT * FROM (SELECT {columns} FROM contacts_contact c "
        f"WHERE {pg.lookup} AND {test} AND {_SERIAL} AND c.id + 0 > "
        f"(CASE WHEN {dense} THEN {last(WINDOW + FAR)} ELSE {last(WINDOW)} END) "
        f"ORDER BY c.id + 0 LIMIT {int(limit)}) AS later LIMIT {int(limit)}"
    )
    return sql, params + params + pg.lookup_params + params
