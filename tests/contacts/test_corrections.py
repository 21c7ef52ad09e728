"""Staff corrections: split and join are recorded, obeyed by every later matching, undone."""

from __future__ import annotations

import pytest

from crmhub.contacts.matching import persons_match
from crmhub.contacts.matching.corrections import (
    CorrectionError,
    correction_undo,
    person_join,
    person_split,
)
from crmhub.contacts.models import Contact, MatchCorrection
from tests.contacts.conftest import remote

pytestmark = pytest.mark.django_db


def _people() -> set[frozenset[str]]:
    groups: dict[int, set[str]] = {}
    for person_id, kind, remote_id in Contact.objects.filter(person__isnull=False).values_list(
        "person_id", "connection__kind", "remote_id"
    ):
        groups.setdefault(person_id, set()).add(f"{kind}:{remote_id}")
    return {frozenset(members) for members in groups.values()}


@pytest.fixture
def kim(crms):  # type: ignore[no-untyped-def]
    """Kim in three CRMs (email, then phone), and Lee alone in Apptivo."""
    crms.set("allclients", remote(1, "Kim", "Park", email="kim@example.com"))
    crms.set("apptivo", remote(2, "Kim", "Park", email="KIM@example.com", phone="415 555 0101"),
             remote(5, "Lee", "Park", email="lee@example.com"))  # fmt: skip
    crms.set("collect", remote(3, "K.", "Park", phone="4155550101"))
    crms.sync()
    assert _people() == {frozenset({"allclients:1", "apptivo:2", "collect:3"})}
    return crms


def _resync(crms) -> None:  # type: ignore[no-untyped-def]
    """Sync every CRM again with a change to every record (each is matched again), then
    match everything from scratch."""
    for kind in crms.connections:
        fake = crms.fake(kind)
        fake.contacts = [
            remote(c.remote_id, c.first_name + "x", c.last_name,
                   email=(c.emails or [None])[0], phone=(c.phones or [None])[0])
            for c in fake.contacts
        ]  # fmt: skip
    crms.sync()
    assert not Contact.objects.filter(needs_match=True).exists()
    assert persons_match(full=True).moved == 0


def test_split_a_record_out_and_it_stays_out(kim, operator):
    collect = kim.get("collect", "3")

    correction = person_split(contact=collect, user=operator, reason="Another Kim")

    assert _people() == {frozenset({"allclients:1", "apptivo:2"})}
    assert (correction.kind, correction.reason, correction.created_by) == (
        "split", "Another Kim", operator,
    )  # fmt: skip
    assert sorted(correction.members.values_list("side", "contact__remote_id")) == [
        ("a", "3"), ("b", "1"), ("b", "2"),
    ]  # fmt: skip
    _resync(kim)
    assert _people() == {frozenset({"allclients:1", "apptivo:2"})}


def test_split_a_record_linking_two_others_keeps_them_together_if_their_keys_do(kim, operator):
    person_split(contact=kim.get("apptivo", "2"), user=operator)

    # Apptivo's record held both keys: without it, nothing links AllClients and Collect!
    assert _people() == set()
    _resync(kim)
    assert _people() == set()


def test_join_two_people_and_they_stay_joined(kim, operator):
    lee = kim.get("apptivo", "5")

    correction = person_join(contact=kim.get("allclients", "1"), other=lee, user=operator)

    assert _people() == {frozenset({"allclients:1", "apptivo:2", "collect:3", "apptivo:5"})}
    assert kim.get("apptivo", "5").matched_by == f"staff:{correction.pk}"
    _resync(kim)
    assert _people() == {frozenset({"allclients:1", "apptivo:2", "collect:3", "apptivo:5"})}


def test_undo_restores_what_the_rule_makes(kim, operator):
    split = person_split(contact=kim.get("collect", "3"), user=operator)
    join = person_join(contact=kim.get("apptivo", "5"), other=kim.get("collect", "3"),
                       user=operator)  # fmt: skip
    assert _people() == {frozenset({"allclients:1", "apptivo:2"}),
                         frozenset({"apptivo:5", "collect:3"})}  # fmt: skip

    correction_undo(correction=join, user=operator)
    assert _people() == {frozenset({"allclients:1", "apptivo:2"})}
    correction_undo(correction=split, user=operator)
    assert _people() == {frozenset({"allclients:1", "apptivo:2", "collect:3"})}

    split.refresh_from_db()
    assert split.undone_by == operator and split.undone_at is not None
    with pytest.raises(CorrectionError):
        correction_undo(correction=split, user=operator)
    assert persons_match(full=True).moved == 0


def test_the_later_correction_wins(kim, operator):
    person_join(contact=kim.get("allclients", "1"), other=kim.get("apptivo", "5"),
                user=operator)  # fmt: skip
    person_split(contact=kim.get("apptivo", "5"), user=operator)
    assert _people() == {frozenset({"allclients:1", "apptivo:2", "collect:3"})}

    person_join(contact=kim.get("collect", "3"), other=kim.get("apptivo", "5"), user=operator)
    assert _people() == {frozenset({"allclients:1", "apptivo:2", "collect:3", "apptivo:5"})}
    _resync(kim)
    assert _people() == {frozenset({"allclients:1", "apptivo:2", "collect:3", "apptivo:5"})}


def test_nothing_to_split_or_join_is_refused(kim, operator):
    with pytest.raises(CorrectionError):
        person_split(contact=kim.get("apptivo", "5"), user=operator)
    with pytest.raises(CorrectionError):
        person_join(contact=kim.get("apptivo", "2"), other=kim.get("collect", "3"), user=operator)
    assert not MatchCorrection.objects.exists()
