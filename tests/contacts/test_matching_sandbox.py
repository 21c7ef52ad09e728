"""Matching against the sandbox's ground truth: its four CRMs seeded with the traps
(household, switchboard, shared inbox, placeholders), synced over HTTP, make exactly the
people the seeding says are one."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

import pytest

from crmhub.bench.sandboxes import connection_from_spec
from crmhub.contacts.matching import persons_match
from crmhub.contacts.models import Contact
from crmhub.contacts.normalize import email_key, phone_key
from crmhub.sandbox.people import people_for
from crmhub.sandbox.registry import KINDS as KIND_ORDER
from tests.contacts.helpers import sync

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
PEOPLE = 200  # four trap groups: one of each kind


def _truth() -> dict[tuple[str, str | None, str | None], int]:
    """Return the person key of each seeded record, by (CRM, phone key, email key)."""
    found: dict[tuple[str, str | None, str | None], int] = {}
    for kind in KIND_ORDER:
        for spec in people_for(kind, PEOPLE):
            found[(kind, phone_key(spec.phone, "US"), email_key(spec.email))] = spec.key
    return found


def _pairs(groups: dict[int, list[int]]) -> set[frozenset[int]]:
    return {frozenset(pair) for members in groups.values() for pair in combinations(members, 2)}


def test_the_seeded_traps_give_separate_people_and_the_rest_one_each(sandbox_spec):
    connections = {
        kind: connection_from_spec(sandbox_spec(kind, people=PEOPLE), name=kind)
        for kind in KIND_ORDER
    }
    for connection in connections.values():
        assert sync(connection, mode="full").state == "succeeded"
    truth = _truth()
    by_key: dict[int, list[int]] = defaultdict(list)
    by_person: dict[int, list[int]] = defaultdict(list)
    traps = 0
    for contact in Contact.objects.select_related("connection"):
        phone = contact.phone_keys[0] if contact.phone_keys else None
        email = contact.email_keys[0] if contact.email_keys else None
        key = truth[(contact.connection.kind, phone, email)]
        traps += key >= 90_000_000
        by_key[key].append(contact.pk)
        if contact.person_id:
            by_person[contact.person_id].append(contact.pk)

    assert traps >= 12  # the trap records were seeded and synced
    assert _pairs(by_person) == _pairs(by_key)
    assert persons_match(full=True).moved == 0
