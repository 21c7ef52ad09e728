"""The demo people: deterministic, each with their own phone, with the traps of matching and
their ground truth (one key per human)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from crmhub.contacts.matching.rule import is_placeholder
from crmhub.contacts.normalize import email_key, phone_key
from crmhub.sandbox.collect.seeding import seed as collect_seed
from crmhub.sandbox.models import Record
from crmhub.sandbox.people import people_for
from crmhub.sandbox.people.traps import GROUP_EVERY, trap_records
from crmhub.sandbox.registry import KINDS as KIND_ORDER

COUNT = 400


@pytest.fixture(scope="module")
def records() -> list[tuple[str, object]]:
    return [(kind, spec) for kind in KIND_ORDER for spec in people_for(kind, COUNT)]


def test_each_crm_gets_exactly_the_people_asked_for_the_same_every_time(records):
    for kind in KIND_ORDER:
        specs = [spec for k, spec in records if k == kind]
        assert len(specs) == COUNT
        assert len({spec.key for spec in specs}) == COUNT  # one record per human per CRM
        assert specs == list(people_for(kind, COUNT))


def test_every_trap_is_seeded(records):
    traps = defaultdict(set)
    for kind, spec in records:
        traps[spec.trap].add(kind)
    assert traps["household"] == {"collect", "allclients"}
    assert traps["switchboard"] == set(KIND_ORDER)
    assert traps["inbox"] >= {"apptivo", "crmcom"}
    assert traps["placeholder"] == set(KIND_ORDER)
    assert len([1 for _, spec in records if spec.trap]) >= 4 * COUNT // GROUP_EVERY


def test_a_phone_is_shared_only_by_a_trap_and_an_email_only_by_an_inbox(records):
    holders: dict[tuple[str, str], set[int]] = defaultdict(set)
    traps: dict[tuple[str, str], set[str]] = defaultdict(set)
    for _, spec in records:
        for key in (("phone", phone_key(spec.phone, "US")), ("email", email_key(spec.email))):
            if key[1]:
                holders[key].add(spec.key)
                traps[key].add(spec.trap)
    shared = {key for key, people in holders.items() if len(people) > 1}
    assert shared, "the traps share no key"
    for key in shared:
        placeholder = is_placeholder(*key)
        expected = {"household", "switchboard"} if key[0] == "phone" else {"inbox"}
        assert placeholder or traps[key] <= expected, (key, traps[key])


def test_a_household_is_a_debtor_and_her_cosigner_one_of_them_also_in_allclients():
    placed = trap_records(0)
    collect = [spec for kind, spec in placed if kind == "collect"]
    assert [spec.record_type for spec in collect] == ["debtor", "cosigner"]
    assert collect[0].key != collect[1].key and collect[0].last_name == collect[1].last_name
    assert phone_key(collect[0].phone, "US") == phone_key(collect[1].phone, "US")
    (allclients,) = [spec for kind, spec in placed if kind == "allclients"]
    assert allclients.key in {spec.key for spec in collect}


@pytest.mark.django_db(databases="__all__")
def test_collect_puts_a_household_in_the_debtor_and_cosigner_tables():
    collect_seed(list(people_for("collect", 100)), batch_size=50)
    household = [spec for kind, spec in trap_records(0) if kind == "collect"]
    debtors = Record.objects.filter(collection="debtor").values_list("data", flat=True)
    cosigners = Record.objects.filter(collection="cosigner").values_list("data", flat=True)
    assert f"{household[0].last_name}, {household[0].first_name}" in {
        data["de_name"] for data in debtors
    }
    assert f"{household[1].last_name}, {household[1].first_name}" in {
        data["cs_name"] for data in cosigners
    }
