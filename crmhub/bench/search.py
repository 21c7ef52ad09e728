"""``bench --section search``: contact_search against the Django-admin way, same data.

Builds an index of ``--contacts`` demo people over the four CRMs (a fifth of them in
three CRMs, with their emails and phones written differently), matches them into people,
then times at least 200 mixed queries: name prefixes as typed, full emails, phone digits
in another format than stored, company words, and queries that find nothing. The baseline
is what Django admin's ``search_fields`` would do over the same fields: each word
``icontains`` OR-ed over the columns, words AND-ed, newest first.

Then typos: names of sampled contacts typed with one typo (a letter changed, two swapped,
one missing or extra) in a word of five letters or more. A typo query's recall counts the
queries that put their person on the first page, among those whose query without the typo
does (a person sharing a common name with hundreds of others is on no first page).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import reduce
from operator import and_, or_

from django.db.models import Q

from crmhub.bench.base import BenchContext, Row
from crmhub.bench.index import bench_connections, index_fill
from crmhub.bench.measure import Timer, percentile
from crmhub.contacts import normalize, spelling
from crmhub.contacts.models import Contact, NameVariant, NameWord
from crmhub.contacts.selectors import contact_search
from crmhub.sandbox.people import COMPANY_WORDS
from crmhub.sandbox.people.base import LAST_NAMES

PER_CATEGORY = 50
TYPO_QUERIES = 200
TYPO_KINDS = ("changed", "swapped", "missing", "extra")
_COMMON = frozenset(word for name in LAST_NAMES for word in normalize.words(name))
ADMIN_FIELDS = ("first_name", "last_name", "full_name", "company", "emails", "phones")


def _other_format(e164: str, rng: random.Random) -> str:
    digits = e164.lstrip("+")
    national = digits[1:] if digits.startswith("1") and len(digits) == 11 else digits
    if len(national) != 10:
        return digits
    area, mid, end = national[:3], national[3:6], national[6:]
    return rng.choice(
        [
            national,
            f"{area}-{mid}-{end}",
            f"{area} {mid} {end}",
            f"+1{national}",
            f"1 {area}{mid}{end}",
        ]
    )


def queries_make(*, seed: int = 7) -> list[tuple[str, str]]:
    """Return (category, query) pairs: 50 of each of the five kinds of query."""
    rng = random.Random(seed)
    top = Contact.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    sample = list(
        Contact.objects.filter(pk__in=[rng.randint(1, top) for _ in range(PER_CATEGORY * 8)])
        .exclude(email_keys=[])
        .exclude(phone_keys=[])
        .values_list("first_name", "last_name", "emails", "phone_keys")[: PER_CATEGORY * 3]
    )
    queries: list[tuple[str, str]] = []
    for first, last, _, _ in sample[:PER_CATEGORY]:
        size = rng.randint(2, 4)
        typed = f"{last} {first[:2]}" if rng.random() < 0.3 else first[:size]
        queries.append(("name prefix", typed))
    for _, _, emails, _ in sample[PER_CATEGORY : PER_CATEGORY * 2]:
        queries.append(("full email", emails[0].strip()))
    for _, _, _, phones in sample[PER_CATEGORY * 2 : PER_CATEGORY * 3]:
        queries.append(("phone, other format", _other_format(phones[0], rng)))
    for _ in range(PER_CATEGORY):
        word = rng.choice(COMPANY_WORDS).split()[0]
        queries.append(("company word", word if rng.random() < 0.5 else word[:4].lower()))
    for _ in range(PER_CATEGORY):
        letters = "".join(rng.choice("qxzjvk") for _ in range(5))
        queries.append(("no hit", letters + str(rng.randint(10, 99))))
    rng.shuffle(queries)
    return queries


def typo(word: str, rng: random.Random, kind: str) -> str:
    """Return ``word`` with one typo of ``kind`` at a random place (never ``word`` itself)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    while True:
        at = rng.randrange(len(word))
        if kind == "changed":
            typed = word[:at] + rng.choice(letters.replace(word[at], "")) + word[at + 1 :]
        elif kind == "swapped":
            at = min(at, len(word) - 2)
            typed = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        elif kind == "missing":
            typed = word[:at] + word[at + 1 :]
        else:
            typed = word[:at] + rng.choice(letters) + word[at:]
        if typed != word:
            return typed


def typo_queries_make(*, seed: int = 13) -> list[tuple[str, str, int]]:
    """Return (query, the query without its typo, contact id) triples: names of sampled
    contacts (a third with a rare surname, the rest as they come) typed with one typo in
    a word of five letters or more: the surname alone, or with the first name, or the
    first name with the surname right."""
    rng = random.Random(seed)
    top = Contact.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    sample = Contact.objects.filter(pk__in=[rng.randint(1, top) for _ in range(TYPO_QUERIES * 8)])
    made: list[tuple[str, str, int]] = []
    rare_wanted = TYPO_QUERIES // 3
    for pk, first, last in sample.values_list("pk", "first_name", "last_name"):
        firsts, lasts = normalize.words(first), normalize.words(last)
        if not firsts or not lasts or len(lasts[-1]) < spelling.MIN_WORD:
            continue
        rare = lasts[-1] not in _COMMON
        if not rare and rare_wanted > TYPO_QUERIES - len(made) - 1:
            continue  # keep room for the rare ones
        first_word, surname = firsts[0], " ".join(lasts)
        form = rng.random()
        kind = TYPO_KINDS[len(made) % len(TYPO_KINDS)]
        if form < 0.3 and len(first_word) >= spelling.MIN_WORD:
            typed, exact = f"{typo(first_word, rng, kind)} {surname}", f"{first_word} {surname}"
        elif form < 0.65:
            typed = f"{first_word} {' '.join([*lasts[:-1], typo(lasts[-1], rng, kind)])}"
            exact = f"{first_word} {surname}"
        else:
            typed, exact = " ".join([*lasts[:-1], typo(lasts[-1], rng, kind)]), surname
        made.append((typed, exact, pk))
        rare_wanted -= rare
        if len(made) >= TYPO_QUERIES:
            break
    return made


def _on_first_page(query: str, pk: int) -> bool:
    page = contact_search(query=query, limit=50)
    return any(contact.pk == pk for row in page.rows for contact in row.contacts)


def _spelling_size() -> tuple[int, int]:
    """Return how many words and variants the spelling index holds."""
    return NameWord.objects.count(), NameVariant.objects.count()


def _typo_rows() -> list[Row]:
    """Return the typo queries' recall and times."""
    typos = typo_queries_make()
    for typed, _, _ in typos[:20]:  # warm up as the other queries were
        _search(typed)
    times = _time(_search, [("typo", typed) for typed, _, _ in typos])["all"]
    eligible = [(typed, pk) for typed, exact, pk in typos if _on_first_page(exact, pk)]
    found = sum(1 for typed, pk in eligible if _on_first_page(typed, pk))
    words, variants = _spelling_size()
    return [
        Row("search", f"typo queries timed ({len(typos)}, one typo in a word of 5+ letters)",
            len(typos), "queries"),
        Row("search", f"  typo recall: person on the first page ({found} of {len(eligible)})",
            found / len(eligible) if eligible else 0.0, "share", target=">= 0.95"),
        Row("search", "  typo p50", percentile(times, 0.5), "ms"),
        Row("search", "  typo p95", percentile(times, 0.95), "ms", target="<= 30 ms at 1M"),
        Row("search", "  spelling index: name words", words, "words"),
        Row("search", "  spelling index: their variants (deletions)", variants, "rows"),
    ]  # fmt: skip


def admin_search(query: str, limit: int = 50) -> list[Contact]:
    """Return what Django admin's search over the same fields returns (the baseline)."""
    words = query.split()
    if not words:
        return []
    condition = reduce(
        and_,
        (reduce(or_, (Q(**{f"{name}__icontains": w}) for name in ADMIN_FIELDS)) for w in words),
    )
    query_set = Contact.objects.filter(condition, deleted_at__isnull=True).order_by("-pk")
    return list(query_set.select_related("connection")[:limit])


def _time(func: Callable[[str], object], queries: list[tuple[str, str]]) -> dict[str, list]:
    times: dict[str, list[float]] = {"all": []}
    for category, query in queries:
        with Timer() as timer:
            func(query)
        times["all"].append(timer.seconds * 1000)
        times.setdefault(category, []).append(timer.seconds * 1000)
    return times


def _search(query: str) -> object:
    page = contact_search(query=query, limit=50)
    return [(row.title, row.kinds) for row in page.rows]


def section(ctx: BenchContext) -> list[Row]:
    """Return search p50/p95 over 250 mixed queries beside the admin-style baseline."""
    ctx.write(f"search: building an index of {ctx.contacts} contacts ...")
    with Timer() as built:
        index_fill(bench_connections(), contacts=ctx.contacts, write=ctx.write)
    count = Contact.objects.count()
    queries = queries_make()
    for _, query in queries[:20]:  # warm the caches the way a running server has them
        _search(query)
    ctx.write(f"search: timing {len(queries)} queries ...")
    ours = _time(_search, queries)
    ctx.write("search: timing the admin-style baseline on the same queries ...")
    base = _time(admin_search, queries)
    found = sum(1 for _, q in queries if contact_search(query=q, limit=1).rows)
    target = "p95 <= 20 ms at 1M, >= 50x"
    rows = [
        Row("search", f"index built ({count} contacts, people matched)", built.seconds, "s"),
        Row("search", f"queries timed ({found} with results)", len(queries), "queries"),
        Row("search", "search p50", percentile(ours["all"], 0.5), "ms",
            percentile(base["all"], 0.5), "admin icontains OR", target=">= 50x"),
        Row("search", "search p95", percentile(ours["all"], 0.95), "ms",
            percentile(base["all"], 0.95), "admin icontains OR", target=target),
    ]  # fmt: skip
    for category in ("name prefix", "full email", "phone, other format", "company word", "no hit"):
        rows.append(
            Row("search", f"  p95 {category}", percentile(ours[category], 0.95), "ms",
                percentile(base[category], 0.95), "admin icontains OR")
        )  # fmt: skip
    ctx.write("search: timing typo queries ...")
    return rows + _typo_rows()
