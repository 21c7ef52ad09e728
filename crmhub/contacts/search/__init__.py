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

SQLite answers from an FTS5 table (``sqlite``), PostgreSQL from a weighted ``tsvector``
(names A, company and emails B, phones C) and one of the names alone (``postgres``);
``candidates`` hides which. ``plan`` reads a query and tells a contact's tier in Python. The
typo tier runs only when the tiers above it leave the page short, so exact and prefix
searches never pay for it.
"""

from __future__ import annotations

import re

from django.db import connection as db

from crmhub.contacts import spelling
from crmhub.contacts.search import postgres, sqlite
from crmhub.contacts.search.plan import (
    MAX_TERMS,
    TIER_ANY_PREFIX,
    TIER_BROWSE,
    TIER_EXACT,
    TIER_FUZZY,
    TIER_NAME_PREFIX,
    TIER_NAME_WORD,
    Filters,
    Params,
    Plan,
    plan_for,
    tier_of,
)
from crmhub.core.sqlite import memory_bounded

__all__ = [
    "COMPACT_MIN_WRITTEN", "MAX_TERMS", "TIER_ANY_PREFIX", "TIER_BROWSE", "TIER_EXACT",
    "TIER_FUZZY", "TIER_NAME_PREFIX", "TIER_NAME_WORD", "Candidate", "Complete", "Filters",
    "Plan", "candidates", "plan_for", "search_index_compact", "tier_of",
]  # fmt: skip


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


def _corrections_counted(plan: Plan) -> tuple[dict[str, tuple[str, ...]], dict[str, int]]:
    """Return the corrections of the query's words (none for an email or a phone: a typed
    address or number has no name word to correct), and how many live contacts carry each
    correction."""
    if plan.phone or plan.email or not plan.terms:
        return {}, {}
    return spelling.corrections_counted(plan.terms)


Candidate = tuple[int, int, "int | None"]
_LIMITS = re.compile(r" LIMIT \d+")
#: Sub-queries read before, by statement without its limit and parameters, with whether
#: their rows are every match (read to their end: asked again with a larger limit, they
#: would give the same rows) or the first matches in id order of a statement that walks its
#: tier in that order (``Part``'s ``prefix``: asked again with a limit no larger than the
#: rows read, it would give the first of them).
Complete = dict[tuple[str, str], tuple[list[Candidate], bool]]
#: A tier's sub-query: its tier, statement, parameters, the question it asks (the key of
#: ``Complete``: the same for a page and a count), its ``spare`` (``postgres.windowed``;
#: 0: none) and whether it reads its tier in id order up to ``spare`` rows (its first
#: rows are then the page's and the count's alike).
Part = tuple[int, str, Params, tuple[str, str], int, bool]


def candidates(
    plan: Plan,
    filters: Filters,
    *,
    after: tuple[int, int] | None,
    limit: int,
    complete: Complete | None = None,
    ordered: bool = True,
    corrections: dict[str, tuple[str, ...]] | None = None,
    spare: int = 0,
    name_counts: dict[str, int] | None = None,
) -> list[list[Candidate]]:
    """Return, per sub-query, up to ``limit`` (tier, id, person) rows past ``after``.

    Not ``ordered`` (a count: any ``limit`` matches of a tier tell as much as the first
    ones), PostgreSQL takes each tier's matches straight from its index, in no order.

    Each sub-query walks one tier in id order from the cursor, and stops at ``limit``.
    Tiers run best first, one statement each, and stop once a tier fills the page: the
    later ones cannot come before it (a broad prefix never pays for the tiers below the
    page). At most one statement per tier, whatever the data (and one lookup of the
    spelling index before the typo tier; on PostgreSQL, one count of the names starting
    with the query's words first, to weigh them: ``postgres.lookup_terms``; a word that
    starts no word of any contact there leaves only the typo tier to ask).
    ``complete`` (filled here) holds the sub-queries
    read to their end; a tier whose sub-queries are all there is not run again (a count
    after the first page of the same search). ``spare`` (a page to be counted: the count's
    ``limit``): a PostgreSQL tier filled by its index part reads up to that many rows, so
    that ``complete`` holds it when it has fewer (``postgres.windowed``); each sub-query
    still gives at most ``limit`` rows. ``name_counts``: the names' counts of terms read
    before (``postgres.name_counts``), filled with those read here.
    """
    filter_sql, filter_params = _filters_sql(filters)
    parts: list[Part] = []

    def add(tier: int, source: str, order: str, where: str, where_params: Params) -> None:
        """Add one tier's sub-query; ``order`` is the id column its index walks in order
        (ordering by another alias of it makes SQLite sort every match first)."""
        if after is not None and tier < after[0]:
            return
        bound = f" AND {order} > {int(after[1])}" if after is not None and after[0] == tier else ""
        # A first page to be counted reads up to the count's limit: the count takes the
        # rows from it rather than run the statement again (the count runs every statement
        # the page does, and a broad prefix costs SQLite as much for 76 rows as for 1,001).
        more = spare if spare > limit else 0
        sql = (  # identifiers and numbers of this module only; values go as parameters
            f"SELECT {tier} AS tier, {order} AS id, c.person_id FROM {source} "  # noqa: S608
            f"WHERE {where}{bound}{filter_sql} ORDER BY {order} LIMIT {int(more or limit)}"
        )
        params = where_params + filter_params
        parts.append((tier, sql, params, (_LIMITS.sub("", sql), repr(params)), more, True))

    def add_windowed(pg: postgres.PgTier) -> None:
        """Add one PostgreSQL tier's statement (``postgres.windowed``)."""
        if after is not None and pg.tier < after[0]:
            return
        start = int(after[1]) if after is not None and after[0] == pg.tier else 0
        # The question, whatever the statement: a count and a page ask a tier the same one.
        key = (f"{pg.tier} {start} {pg.where}{filter_sql}", repr(pg.params + filter_params))
        more = spare if ordered and spare > limit else 0
        sql, params = postgres.windowed(
            pg, start=start, limit=limit, filter_sql=filter_sql, filter_params=filter_params,
            ordered=ordered, spare=more,
        )  # fmt: skip
        parts.append((pg.tier, sql, params, key, more, False))

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

    def add_fts(tier: int, match: sqlite.Match, unnamed: sqlite.Match | None = None) -> None:
        """Add an FTS5 tier; ``unnamed`` is its query when no live name starts with a long
        word of the query (``sqlite.names_guard``), chosen by SQLite in the statement."""
        match_sql, params = match.sql()
        where = f"contacts_contact_fts MATCH {match_sql}"
        if unnamed is not None:
            guard, guard_params = sqlite.names_guard(plan)
            unnamed_sql, unnamed_params = unnamed.sql()
            where = (
                f"contacts_contact_fts MATCH CASE WHEN {guard} THEN {match_sql} "
                f"ELSE {unnamed_sql} END"
            )
            params = [*guard_params, *params, *unnamed_params]
        add(tier, "contacts_contact_fts f JOIN contacts_contact c ON c.id = f.rowid",
            "f.rowid", where, params)  # fmt: skip

    on_postgres = db.vendor == "postgresql"
    counts = postgres.name_counts(plan, name_counts) if on_postgres else {}
    if on_postgres:
        for pg_tier in postgres.tiers(plan, counts):
            add_windowed(pg_tier)
    else:
        for tier, match, unnamed in sqlite.tiers(plan, live_only=not filters.include_deleted):
            add_fts(tier, match, unnamed)
    groups, filled = _run(parts, limit, complete)
    if filled or not plan.terms or (after is not None and after[0] > TIER_FUZZY):
        return groups
    parts.clear()  # the typo tiers, looked up only now that the page needs them
    fixes, fix_counts = _corrections_counted(plan)
    if corrections is not None:
        corrections.update(fixes)
    if on_postgres and (pg_typo := postgres.typo_tier(plan, counts, fixes, fix_counts)):
        add_windowed(pg_typo)
    elif not on_postgres and (fts_typo := sqlite.typo_tier(plan, fixes)):
        add_fts(TIER_FUZZY, fts_typo)
    return groups + _run(parts, limit, complete)[0] if parts else groups


def _run(
    parts: list[Part], limit: int, complete: Complete | None = None
) -> tuple[list[list[Candidate]], bool]:
    """Run the tiers' sub-queries best tier first (the exact tier's two in one statement);
    return their candidates and whether a tier filled the page. A tier whose sub-queries
    are all in ``complete`` (read to their end with fewer rows than ``limit``, or read in id
    order up to ``limit`` rows or more) is taken from there; those read are put there: read
    to their end (fewer rows than ``limit``, or, with a ``spare``, fewer than ``spare``: every
    match, ``postgres.windowed``), or, read in id order, their first rows. Each sub-query
    gives at most ``limit`` rows."""
    by_tier: dict[int, list[tuple[str, Params, tuple[str, str], int, bool]]] = {}
    for tier, sql, params, key, spare, prefix in parts:
        by_tier.setdefault(tier, []).append((sql, params, key, spare, prefix))
    groups: list[list[Candidate]] = []
    known: Complete = {} if complete is None else complete

    def answers(key: tuple[str, str]) -> bool:
        rows, whole = known.get(key, ([], False))
        return key in known and (len(rows) < limit if whole else len(rows) >= limit)

    with db.cursor() as cursor:
        for tier in sorted(by_tier):
            queries = by_tier[tier]
            keys = [key for _, _, key, _, _ in queries]
            if all(answers(key) for key in keys):
                found = [known[key][0][:limit] for key in keys]
                groups += found
                if any(len(group) >= limit for group in found):
                    return groups, True
                continue
            sql = " UNION ALL ".join(
                f"SELECT * FROM (SELECT {index} AS src, q.* FROM ({query}) AS q) AS s{index}"  # noqa: S608
                for index, (query, _, _, _, _) in enumerate(queries)
            )
            cursor.execute(sql, [param for _, params, _, _, _ in queries for param in params])
            found = [[] for _ in queries]
            for src, row_tier, pk, person in cursor.fetchall():
                found[int(src)].append((int(row_tier), int(pk), person))
            for group in found:  # a windowed tier's two halves come in either order
                group.sort()
            for (_, _, key, spare, prefix), rows in zip(queries, found, strict=True):
                if len(rows) < limit or limit < len(rows) < spare:
                    known[key] = (rows, True)
                elif prefix and spare:  # read past the page, up to the count's limit
                    known[key] = (rows, len(rows) < spare)
            found = [group[:limit] for group in found]
            groups += found
            if any(len(group) >= limit for group in found):
                return groups, True  # this tier fills the page: nothing below it comes first
    return groups, False


#: A sync that wrote at least this many contacts merges the search index after it.
COMPACT_MIN_WRITTEN = 10_000
#: A sync that wrote at least this share of the contacts (and so, with its matching, left
#: as many dead row versions) has the table vacuumed after it on PostgreSQL, not only
#: analysed (``search_index_compact``): autovacuum's own threshold (20% of the rows).
VACUUM_SHARE = 0.2
#: PostgreSQL's GIN indexes of the search (``search_vector``'s and the names' own).
GIN_INDEXES = ("contacts_contact_search_vector", "contacts_contact_search_names_vector")


def search_index_compact(*, written: int) -> bool:
    """Merge the search index after ``written`` contacts were written (at least
    ``COMPACT_MIN_WRITTEN``); return whether it did.

    SQLite: every transaction of a sync leaves the full-text index a new segment, and FTS5
    merges them only so far (``automerge``, tuned for cheap writes), so after a large sync a
    query looks each word up in dozens of segments. One merge costs ~2 s at a million
    contacts and halves the slow queries' time (``manage.py bench --section search``). It
    reads the whole index once: with SQLite's memory held down (``memory_bounded``).

    PostgreSQL: a GIN index takes new rows into a pending list that every lookup reads
    through until autovacuum merges it, some time later; the pending lists are merged now
    (``gin_clean_pending_list``), and the table analysed, so that the planner knows the new
    rows too. A sync that wrote at least ``VACUUM_SHARE`` of the contacts has the table
    vacuumed too: each contact it wrote, and matching placed, left a dead row version and
    its entries in every index, which a lookup reads and drops (a first sync of 1,000,000
    leaves 1,000,000: the name-prefix queries' server CPU p95 48-51 ms with them, 24 ms
    vacuumed; a vacuum costs ~45 s there). Autovacuum would come, throttled, minutes later.
    None of this blocks a search or a write.
    """
    if written < COMPACT_MIN_WRITTEN:
        return False
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            for index in GIN_INDEXES:
                cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [index])
            cursor.execute(
                "SELECT reltuples FROM pg_class WHERE oid = 'contacts_contact'::regclass"
            )
            (known,) = cursor.fetchone()
            # (VACUUM cannot run in a transaction: within one, a test's, analyse only.)
            if written >= VACUUM_SHARE * max(known, 0) and not db.in_atomic_block:
                cursor.execute("VACUUM (ANALYZE) contacts_contact")
            else:
                cursor.execute("ANALYZE contacts_contact")
        return True
    with memory_bounded(), db.cursor() as cursor:
        cursor.execute("INSERT INTO contacts_contact_fts(contacts_contact_fts) VALUES ('optimize')")
    return True
