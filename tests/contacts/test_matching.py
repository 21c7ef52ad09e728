"""Person matching: one person across CRMs by email or phone, never by name alone."""

from __future__ import annotations

import pytest

from crmhub.contacts.matching import persons_match
from crmhub.contacts.models import Contact, Person
from tests.contacts.conftest import remote
from tests.contacts.helpers import sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def crms(make_connection, fake_crms):  # type: ignore[no-untyped-def]
    """Three connections (AllClients, Apptivo, Collect!) with their fake CRMs."""

    class Crms:
        connections = {
            kind: make_connection(kind, name=kind) for kind in ("allclients", "apptivo", "collect")
        }

        def set(self, kind: str, *contacts) -> None:  # type: ignore[no-untyped-def]
            fake_crms[kind].contacts = list(contacts)

        def sync(self, *kinds: str) -> None:
            for kind in kinds or tuple(self.connections):
                sync(self.connections[kind], mode="full")

        def get(self, kind: str, remote_id: str) -> Contact:
            return Contact.objects.get(connection=self.connections[kind], remote_id=remote_id)

    return Crms()


def test_emails_in_other_case_and_with_spaces_are_one_person(crms):
    crms.set("allclients", remote(1, "John", "Smith", email="  John.Smith@Example.com "))
    crms.set("apptivo", remote("A-9", "Johnny", "Smith", email="john.smith@example.com"))
    crms.sync()

    ac, ap = crms.get("allclients", "1"), crms.get("apptivo", "A-9")
    assert ac.person_id is not None and ac.person_id == ap.person_id
    assert ac.matched_by == "email:john.smith@example.com"
    assert Person.objects.count() == 1


def test_phone_numbers_in_other_formats_are_one_person(crms):
    crms.set("allclients", remote(1, "Ann", "Lee", phone="(312) 555-0142"))
    crms.set("collect", remote(77, "Ann", "Lee-Wong", phone="+1 312 555 0142"))
    crms.sync()

    ac, co = crms.get("allclients", "1"), crms.get("collect", "77")
    assert ac.person_id == co.person_id is not None
    assert co.matched_by == "phone:+13125550142"


def test_same_name_different_people_stay_apart(crms):
    crms.set("allclients", remote(1, "Maria", "Garcia", email="maria1@example.com"))
    crms.set("apptivo", remote(2, "Maria", "Garcia", email="maria2@example.com"))
    crms.sync()

    assert crms.get("allclients", "1").person_id is None
    assert crms.get("apptivo", "2").person_id is None
    assert Person.objects.count() == 0


def test_shared_key_within_one_crm_does_not_merge(crms):
    crms.set(
        "collect",
        remote(1, "Pat", "Doe", phone="312-555-0100", record_type="debtor"),
        remote(2, "Sam", "Doe", phone="312-555-0100", record_type="cosigner"),
    )
    crms.sync("collect")

    assert not Contact.objects.filter(person__isnull=False).exists()


def test_links_are_transitive_and_keep_their_evidence(crms):
    crms.set("allclients", remote(1, "Kim", "Park", email="kim@example.com"))
    crms.set("apptivo", remote(2, "Kim", "Park", email="KIM@example.com", phone="415 555 0101"))
    crms.set("collect", remote(3, "K.", "Park", phone="4155550101"))
    crms.sync()

    people = {c.person_id for c in Contact.objects.all()}
    assert len(people) == 1 and None not in people
    assert crms.get("apptivo", "2").matched_by == "email:kim@example.com phone:+14155550101"
    assert crms.get("collect", "3").matched_by == "phone:+14155550101"
    assert Person.objects.get().display_name == "Kim Park"


def test_a_contact_whose_email_changed_moves_to_the_right_person(crms):
    crms.set("allclients", remote(1, "Lee", "Moss", email="old@example.com"))
    crms.set("apptivo", remote(2, "Lee", "Moss", email="old@example.com"))
    crms.set("collect", remote(3, "Lee", "Moss", email="new@example.com"),
             remote(4, "Other", "Person", email="other@example.com"))  # fmt: skip
    crms.sync()
    assert crms.get("allclients", "1").person_id == crms.get("apptivo", "2").person_id

    crms.set("allclients", remote(1, "Lee", "Moss", email="new@example.com"))
    crms.sync("allclients")

    ac, ap, co = crms.get("allclients", "1"), crms.get("apptivo", "2"), crms.get("collect", "3")
    assert ac.person_id == co.person_id is not None
    assert ap.person_id is None and ap.matched_by == ""
    assert ac.matched_by == "email:new@example.com"
    assert Person.objects.count() == 1


def test_a_deleted_contact_leaves_its_person(crms):
    crms.set("allclients", remote(1, "Bo", "Chen", email="bo@example.com"))
    crms.set("apptivo", remote(2, "Bo", "Chen", email="bo@example.com"))
    crms.sync()
    assert Person.objects.count() == 1

    crms.set("allclients")
    crms.sync("allclients")

    assert crms.get("allclients", "1").deleted_at is not None
    assert not Contact.objects.filter(person__isnull=False).exists()
    assert Person.objects.count() == 0


def test_people_merge_when_a_new_key_bridges_them(crms):
    crms.set("allclients", remote(1, "Al", "Roy", email="al@example.com"),
             remote(5, "Bea", "Roy", phone="206 555 0188"))  # fmt: skip
    crms.set("apptivo", remote(2, "Al", "Roy", email="al@example.com"))
    crms.set("collect", remote(3, "Bea", "Roy", phone="206-555-0188"))
    crms.sync()
    assert Person.objects.count() == 2

    crms.set("collect", remote(3, "Bea", "Roy", phone="206-555-0188", email="al@example.com"))
    crms.sync("collect")

    assert Person.objects.count() == 1
    assert Contact.objects.filter(person__isnull=False).count() == 4


def test_display_name_is_the_name_most_contacts_carry(crms):
    crms.set("allclients", remote(1, "Jo", "Smith", email="jo@example.com"))
    crms.set("apptivo", remote(2, "Joanna", "Smith", email="jo@example.com"))
    crms.set("collect", remote(3, "Joanna", "Smith", email="jo@example.com"))
    crms.sync()
    assert Person.objects.get().display_name == "Joanna Smith"


def test_a_full_rematch_agrees_with_the_incremental_one(crms):
    crms.set("allclients", *[remote(n, f"A{n}", "X", email=f"u{n}@example.com")
                             for n in range(30)])  # fmt: skip
    crms.set("apptivo", *[remote(n, f"B{n}", "X", email=f"U{n}@example.com")
                          for n in range(0, 30, 2)])  # fmt: skip
    crms.set("collect", *[remote(n, f"C{n}", "X", email=f"u{n}@example.com ")
                          for n in range(0, 30, 3)])  # fmt: skip
    crms.sync()
    before = sorted(Contact.objects.values_list("pk", "person_id", "matched_by"))

    result = persons_match(full=True)

    assert result.full and result.moved == 0
    assert sorted(Contact.objects.values_list("pk", "person_id", "matched_by")) == before
    assert Person.objects.count() == 20  # the even ones and the multiples of three


def test_matching_is_a_bounded_number_of_queries(crms, django_assert_max_num_queries):
    crms.set("allclients", *[remote(n, f"A{n}", "X", email=f"u{n}@example.com")
                             for n in range(300)])  # fmt: skip
    crms.set("apptivo", *[remote(n, f"B{n}", "X", email=f"u{n}@example.com")
                          for n in range(300)])  # fmt: skip
    for kind in ("allclients", "apptivo"):
        sync(crms.connections[kind], mode="full", match=False)

    with django_assert_max_num_queries(40):
        result = persons_match()

    assert result.persons_created == 300 and not result.full
    assert Contact.objects.filter(person__isnull=True).count() == 0
    assert not Contact.objects.filter(needs_match=True).exists()


def test_a_key_shared_by_a_crowd_links_nobody(crms):
    crms.set("allclients", *[remote(n, f"A{n}", "X", email="info@example.com")
                             for n in range(7)])  # fmt: skip
    crms.set("apptivo", *[remote(n, f"B{n}", "X", email="info@example.com")
                          for n in range(7)])  # fmt: skip
    crms.sync()
    assert Person.objects.count() == 0
    assert persons_match(full=True).persons_created == 0
