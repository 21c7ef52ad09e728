"""Full and incremental matching make the same people: one rule, whatever the path.

Random CRMs whose contacts draw their emails and phones from small pools (so households,
switchboards, shared inboxes, placeholders and genuine people all happen), changed sync
after sync (keys replaced, records deleted and added), with staff splits and joins in
between; after every step the incremental matching has run, and a full matching over the
same data must move nobody.
"""

from __future__ import annotations

import random

import pytest

from crmhub.contacts.matching import persons_match
from crmhub.contacts.matching.corrections import person_join, person_split
from crmhub.contacts.models import Contact
from tests.contacts.conftest import remote
from tests.contacts.helpers import sync

pytestmark = pytest.mark.django_db

KINDS = ("allclients", "apptivo", "collect")
EMAILS = [f"user{n}@example.com" for n in range(40)] + ["none@none.com", "test@test.com"]
PHONES = [f"312 555 {n:04d}" for n in range(100, 130)] + ["888-888-8888"]


def _contact(rng: random.Random, remote_id: str):  # type: ignore[no-untyped-def]
    email = rng.choice(EMAILS) if rng.random() < 0.7 else None
    phone = rng.choice(PHONES) if rng.random() < 0.7 else None
    if email and rng.random() < 0.3:
        email = f"  {email.upper()} "
    if phone and rng.random() < 0.5:
        phone = "+1-" + phone.replace(" ", "-")
    return remote(remote_id, "P", remote_id, email=email, phone=phone)


def _people() -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for pk, person_id in Contact.objects.filter(person__isnull=False).values_list(
        "pk", "person_id"
    ):
        groups.setdefault(person_id, set()).add(pk)
    return {frozenset(members) for members in groups.values()}


def _state() -> list[tuple]:
    return sorted(Contact.objects.values_list("pk", "person_id", "matched_by"))


def _agree(step: str) -> None:
    incremental = _state()
    result = persons_match(full=True)
    assert (result.moved, _state()) == (0, incremental), step


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_matching_agrees_with_a_full_one(make_connection, fake_crms, seed):
    rng = random.Random(seed)
    connections = {kind: make_connection(kind, name=kind) for kind in KINDS}
    books = {
        kind: {f"{kind[:2]}{n}": _contact(rng, f"{kind[:2]}{n}") for n in range(25)}
        for kind in KINDS
    }
    next_id = 100
    for round_number in range(8):
        kind = KINDS[round_number % len(KINDS)]
        book = books[kind]
        if round_number >= len(KINDS):  # change a few records of this CRM
            for remote_id in rng.sample(sorted(book), 6):
                book[remote_id] = _contact(rng, remote_id)
            for remote_id in rng.sample(sorted(book), 2):
                del book[remote_id]
            for _ in range(2):
                next_id += 1
                book[f"{kind[:2]}{next_id}"] = _contact(rng, f"{kind[:2]}{next_id}")
        fake_crms[kind].contacts = list(book.values())
        sync(connections[kind], mode="full")

        _agree(f"sync {round_number}")
        live = list(Contact.objects.filter(deleted_at__isnull=True).order_by("pk"))
        placed = [c for c in live if c.person_id]
        if placed and round_number % 2:
            person_split(contact=rng.choice(placed), user=None, reason="test")
            _agree(f"split {round_number}")
        first, second = rng.sample(live, 2)
        if first.person_id is None or first.person_id != second.person_id:
            person_join(contact=first, other=second, user=None)
            _agree(f"join {round_number}")
    assert _people(), "the data made nobody: the test would prove nothing"
