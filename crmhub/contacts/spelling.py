"""The spelling index behind the typo tier: the name words of live contacts, each with its
deletion neighbours (SymSpell's idea).

A word and its one-letter deletions are its *variants*; two words one edit apart (a letter
changed, two neighbours swapped, one missing or extra) always share a variant. So the words
one typo away from what was typed are found with one indexed lookup of the typed word's
variants, then checked (``one_edit_apart``): no scan of the vocabulary, whatever its size.

Only words of ``MIN_WORD`` letters or more are indexed (``NameWord``, with how many live
contacts carry each, and ``NameVariant``): a typo in a shorter word is
not corrected, since one letter off a short word is usually another name ("Jon", "Jan").
A typed word one letter shorter (a missing letter) still finds them.

The sync and the write-through keep the index current in the transaction that writes the
contacts (``vocabulary_change`` with ``words_moved``: ``sync.writer``);
``vocabulary_rebuild`` recomputes it from the contacts. The typo tier is made of it, on
both databases (see ``search``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from django.db import connection as db

from crmhub.core.sqlite import statement_pieces

#: Name words this long or longer forgive one typo.
MIN_WORD = 5
#: Longer words are not indexed (no name word is; a pasted sentence is no name).
MAX_WORD = 40
#: The most corrections of one typed word that a search tries (the most common first).
MAX_CORRECTIONS = 12
_CHUNK = 512
#: ``prefix_counts``' count of a prefix that fails its ``unnamed`` test.
NOWHERE = -1


def words_moved(added: Iterable[str], removed: Iterable[str] = ()) -> Counter[str]:
    """Return by how much the live contacts carrying each indexed word change when live
    contacts with the ``search_names`` ``added`` appear and those with ``removed`` go."""
    counts = _indexed_counts(added)
    counts.subtract(_indexed_counts(removed))
    return counts


def _indexed_counts(names: Iterable[str]) -> Counter[str]:
    """Return how many times each word the index keeps occurs in ``names`` (``search_names``
    values). Every word is counted at once (in C), then the few distinct ones filtered:
    not a Python step a word, since a sync counts the words of every contact it writes."""
    every = Counter(" ".join(names).split())
    return Counter({word: n for word, n in every.items() if MIN_WORD <= len(word) <= MAX_WORD})


def variants(word: str) -> set[str]:
    """Return ``word`` and every word one deletion away from it."""
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


def one_edit_apart(first: str, second: str) -> bool:
    """Return whether the two words differ by exactly one typo: a letter changed, two
    neighbouring letters swapped, or one letter missing or extra."""
    if first == second or abs(len(first) - len(second)) > 1:
        return False
    if len(first) > len(second):
        first, second = second, first
    start = 0
    while start < len(first) and first[start] == second[start]:
        start += 1
    if len(first) < len(second):  # one letter extra in ``second`` at ``start``
        return first[start:] == second[start + 1 :]
    if first[start + 1 :] == second[start + 1 :]:  # one letter changed
        return True
    if start + 1 >= len(first):
        return False
    swapped = first[start] == second[start + 1] and first[start + 1] == second[start]
    return swapped and first[start + 2 :] == second[start + 2 :]


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterator[Sequence]:
    """Yield ``items`` in pieces of a few sizes (``statement_pieces``)."""
    for start, length in statement_pieces(len(items), size):
        yield items[start : start + length]


def _marks(count: int, width: int = 1) -> str:
    """Return ``count`` parameter marks (rows of ``width`` when more than one)."""
    row = "(" + ", ".join(["%s"] * width) + ")" if width > 1 else "%s"
    return ", ".join([row] * count)


def vocabulary_change(counts: Mapping[str, int]) -> None:
    """Apply changes of live-contact counts per word (from ``words_moved``): new words get
    their variants, words no live contact carries any more leave with theirs.

    Call inside the transaction that wrote the contacts.
    """
    # In word order, as every writer takes them: two syncs writing the same words in their
    # own orders each waited for a row the other held (PostgreSQL: "deadlock detected").
    changed = sorted((word, delta) for word, delta in counts.items() if delta)
    if not changed:
        return
    with db.cursor() as cursor:
        for chunk in _chunks(changed):
            words = [word for word, _ in chunk]
            cursor.execute(
                f"SELECT word FROM contacts_nameword WHERE word IN ({_marks(len(words))})",  # noqa: S608
                words,
            )
            known = {row[0] for row in cursor.fetchall()}
            cursor.execute(
                f"INSERT INTO contacts_nameword (word, live) VALUES {_marks(len(chunk), 2)} "  # noqa: S608
                "ON CONFLICT (word) DO UPDATE SET live = contacts_nameword.live + excluded.live",
                [value for pair in chunk for value in pair],
            )
            new = [word for word, delta in chunk if delta > 0 and word not in known]
            _variants_write(cursor, new, insert=True)
            fallen = [word for word, delta in chunk if delta < 0]
            if fallen:
                cursor.execute(
                    "DELETE FROM contacts_nameword WHERE live <= 0 "  # noqa: S608
                    f"AND word IN ({_marks(len(fallen))}) RETURNING word",
                    fallen,
                )
                _variants_write(cursor, [row[0] for row in cursor.fetchall()], insert=False)


def _variants_write(cursor: Any, words: Iterable[str], *, insert: bool) -> None:
    """Insert (or delete) the variant rows of ``words``."""
    pairs = sorted((variant, word) for word in words for variant in variants(word))
    for chunk in _chunks(pairs):
        values = [value for pair in chunk for value in pair]
        if insert:
            sql = (
                "INSERT INTO contacts_namevariant (variant, word) "  # noqa: S608
                f"VALUES {_marks(len(chunk), 2)} ON CONFLICT DO NOTHING"
            )
        else:
            sql = (
                "DELETE FROM contacts_namevariant WHERE (variant, word) IN "  # noqa: S608
                f"(VALUES {_marks(len(chunk), 2)})"
            )
        cursor.execute(sql, values)


def vocabulary_rebuild() -> int:
    """Recompute the spelling index from the live contacts; return how many words it has."""
    counts: Counter[str] = Counter()
    with db.cursor() as cursor:
        cursor.execute("SELECT search_names FROM contacts_contact WHERE deleted_at IS NULL")
        while rows := cursor.fetchmany(5000):
            counts.update(words_moved(names or "" for (names,) in rows))
        cursor.execute("DELETE FROM contacts_namevariant")
        cursor.execute("DELETE FROM contacts_nameword")
    vocabulary_change(counts)
    return len(counts)


def corrections_counted(
    terms: Sequence[str],
) -> tuple[dict[str, tuple[str, ...]], dict[str, int]]:
    """Return, for each of the folded ``terms`` that has any, the indexed name words one
    typo away from it (the most common first, at most ``MAX_CORRECTIONS``), and how many
    live contacts carry each of them. One query."""
    wanted: dict[str, set[str]] = {}
    for term in terms:
        if len(term) >= MIN_WORD:
            wanted[term] = variants(term)
        elif len(term) == MIN_WORD - 1:  # only a missing letter can lead to an indexed word
            wanted[term] = {term}
    keys = sorted(set().union(*wanted.values())) if wanted else []
    if not keys:
        return {}, {}
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT v.word, w.live FROM contacts_namevariant v "  # noqa: S608
            "JOIN contacts_nameword w ON w.word = v.word "
            f"WHERE v.variant IN ({_marks(len(keys))})",
            keys,
        )
        found = sorted(cursor.fetchall(), key=lambda row: (-row[1], row[0]))
    fixes: dict[str, tuple[str, ...]] = {}
    for term in wanted:
        close = [word for word, _ in found if one_edit_apart(term, word)]
        if close:
            fixes[term] = tuple(close[:MAX_CORRECTIONS])
    return fixes, dict(found)


def prefix_counts(prefixes: Sequence[str], *, unnamed: str = "") -> dict[str, int]:
    """Return how many times live contacts carry an indexed name word starting with each
    of ``prefixes``: exact for a prefix of ``MIN_WORD`` letters or more, a lower bound for a
    shorter one (shorter words are not indexed). One query, one index range a prefix
    (PostgreSQL: migration 0008 keeps the words in byte order for ``LIKE``).

    ``unnamed``: an SQL test of a prefix (its one parameter) that the same query makes of
    the prefixes no name starts; those it fails count ``NOWHERE``."""
    prefixes = list(dict.fromkeys(prefixes))
    if not prefixes:
        return {}
    count = (
        "(SELECT coalesce(sum(w.live), 0) FROM contacts_nameword w "
        "WHERE w.word LIKE %s ESCAPE '\\')"
    )
    column = f"CASE WHEN {count} > 0 THEN {count} WHEN {unnamed} THEN 0 ELSE {NOWHERE} END"
    params: list[str] = []
    for prefix in prefixes:
        like = _like_prefix(prefix)
        params += [like, like, prefix] if unnamed else [like]
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join([column if unnamed else count] * len(prefixes))}", params
        )
        row = cursor.fetchone()
    return {prefix: int(n) for prefix, n in zip(prefixes, row, strict=True)}


def _like_prefix(prefix: str) -> str:
    """Return the ``LIKE`` pattern of the words starting with ``prefix``."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"
