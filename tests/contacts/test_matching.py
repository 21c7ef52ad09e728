"""Person matching: one person across CRMs by email or phone, never by name alone."""

from __future__ import annotations

import pytest

from crmhub.contacts.matching import persons_match
from crmhub.contacts.models import Contact, Person
from tests.contacts.conftest import remote
from tests.contacts.helpers import sync

pytestmark = pytest.mark.django_db


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


# -- only specific keys identify ---------------------------------------------------------------
def _people() -> set[frozenset[str]]:
    """Return the people as sets of "kind:remote id"."""
    groups: dict[int, set[str]] = {}
    for person_id, kind, remote_id in Contact.objects.filter(person__isnull=False).values_list(
        "person_id", "connection__kind", "remote_id"
    ):
        groups.setdefault(person_id, set()).add(f"{kind}:{remote_id}")
    return {frozenset(members) for members in groups.values()}


def test_a_household_phone_joins_nobody(crms):
    """A debtor and her cosigner share a home phone; the debtor is also in AllClients."""
    crms.set(
        "collect",
        remote("d1", "Pat", "Doe", phone="312-555-0100", email="pat@example.com",
               record_type="debtor"),
        remote("c1", "Sam", "Doe", phone="(312) 555-0100", record_type="cosigner"),
    )  # fmt: skip
    crms.set("allclients", remote(1, "Pat", "Doe", phone="+1 312 555 0100",
                                  email="PAT@example.com"))  # fmt: skip
    crms.sync()

    assert _people() == {frozenset({"collect:d1", "allclients:1"})}
    assert crms.get("allclients", "1").matched_by == "email:pat@example.com"
    assert crms.get("collect", "c1").person_id is None


def test_a_household_phone_alone_links_nobody(crms):
    """Without an email, the debtor in AllClients cannot be told from her cosigner."""
    crms.set(
        "collect",
        remote("d1", "Pat", "Doe", phone="312-555-0100", record_type="debtor"),
        remote("c1", "Sam", "Doe", phone="312-555-0100", record_type="cosigner"),
    )
    crms.set("allclients", remote(1, "Pat", "Doe", phone="312.555.0100"))
    crms.sync()

    assert _people() == set()


def test_an_office_switchboard_joins_nobody(crms):
    """Four colleagues over three CRMs share the switchboard, each with their own email."""
    board = "415-555-0199"
    crms.set("allclients", remote(1, "Ann", "Ray", phone=board, email="ann@acme.example"),
             remote(2, "Bob", "Ray", phone=board, email="bob@acme.example"))  # fmt: skip
    crms.set("apptivo", remote(3, "Cy", "Lo", phone=board, email="cy@acme.example"))
    crms.set("collect", remote(4, "Di", "Wu", phone=board, email="di@acme.example"),
             remote(5, "Ann", "Ray", email="ann@acme.example"))  # fmt: skip
    crms.sync()

    assert _people() == {frozenset({"allclients:1", "collect:5"})}


def test_a_switchboard_of_colleagues_in_different_crms_joins_nobody(crms):
    """One colleague per CRM: the phone is held once per connection, but the emails differ."""
    board = "(206) 555-0123"
    crms.set("allclients", remote(1, "Ann", "Ray", phone=board, email="ann@acme.example"))
    crms.set("apptivo", remote(2, "Bob", "Ray", phone=board, email="bob@acme.example"))
    crms.set("collect", remote(3, "Cy", "Lo", phone=board, email="cy@acme.example"))
    crms.sync()

    assert _people() == set()


def test_a_shared_inbox_joins_nobody(crms):
    """A couple shares one inbox; one of them is also in Collect! with her own phone."""
    inbox = "the.does@example.com"
    crms.set("apptivo", remote(1, "Pat", "Doe", email=inbox, phone="303 555 0111"),
             remote(2, "Sam", "Doe", email=inbox, phone="303 555 0122"))  # fmt: skip
    crms.set("collect", remote(9, "Pat", "Doe", email="The.Does@example.com",
                               phone="(303) 555-0111"))  # fmt: skip
    crms.sync()

    assert _people() == {frozenset({"apptivo:1", "collect:9"})}
    assert crms.get("collect", "9").matched_by == "phone:+13035550111"


@pytest.mark.parametrize(
    "email",
    ["none@none.com", "NoEmail@example.com", "na@na.com", "test@test.com", "no@email.com",
     "unknown@company.example", "n/a@example.com"],
)  # fmt: skip
def test_a_placeholder_email_links_nobody(crms, email):
    """Strangers whose email is a placeholder: two in AllClients, one in Apptivo."""
    crms.set("allclients", remote(1, "Al", "One", email=email),
             remote(2, "Bo", "Two", email=email, phone="617 555 0102"))  # fmt: skip
    crms.set("apptivo", remote(3, "Cy", "Three", email=email, phone="617 555 0103"))
    crms.set("collect", remote(4, "Di", "Four", email=email))
    crms.sync()

    assert _people() == set()


@pytest.mark.parametrize(
    "phone", ["888-888-8888", "(222) 222-2222", "+1 999 999 9999", "+44 1234 567890",
              "+44 7777 777777"],
)  # fmt: skip
def test_a_placeholder_phone_links_nobody(crms, phone):
    crms.set("allclients", remote(1, "Al", "One", phone=phone))
    crms.set("apptivo", remote(2, "Bo", "Two", phone=phone))
    crms.sync()

    assert _people() == set()


def test_the_deny_list_is_one_setting(crms, settings):
    settings.CRMHUB_MATCH_PLACEHOLDERS = {"email": [r"@example\.com$"], "phone": []}
    crms.set("allclients", remote(1, "Al", "One", email="al@example.com", phone="888-888-8888"))
    crms.set("apptivo", remote(2, "Al", "One", email="al@example.com", phone="888 888 8888"))
    crms.sync()

    assert _people() == {frozenset({"allclients:1", "apptivo:2"})}
    assert crms.get("apptivo", "2").matched_by == "phone:+18888888888"


def test_a_genuine_person_in_three_crms_is_one(crms):
    crms.set("allclients", remote(1, "José", "Núñez", email="  Jose.Nunez@Example.com ",
                                  phone="(312) 555-0177"))  # fmt: skip
    crms.set("apptivo", remote("A-1", "Jose", "Nunez", email="JOSE.NUNEZ@EXAMPLE.COM"))
    crms.set("collect", remote("d7", "Núñez", "José", phone="+1 312 555 0177"))
    crms.sync()

    assert _people() == {frozenset({"allclients:1", "apptivo:A-1", "collect:d7"})}


def test_a_deleted_contact_does_not_make_a_key_common(crms):
    """Only live contacts count: a deleted duplicate does not silence a specific key."""
    crms.set("allclients", remote(1, "Al", "Roy", email="al@example.com"),
             remote(2, "Al", "Roy", email="al@example.com"))  # fmt: skip
    crms.set("apptivo", remote(3, "Al", "Roy", email="al@example.com"))
    crms.sync()
    assert _people() == set()

    crms.set("allclients", remote(1, "Al", "Roy", email="al@example.com"))
    crms.sync("allclients")

    assert _people() == {frozenset({"allclients:1", "apptivo:3"})}
    assert persons_match(full=True).moved == 0


def test_a_key_a_contact_lost_links_its_other_holders(crms):
    """Sam leaves the household phone: Pat, in two CRMs, is then linked by it."""
    crms.set("collect", remote("d1", "Pat", "Doe", phone="312-555-0100"),
             remote("c1", "Sam", "Doe", phone="312-555-0100"))  # fmt: skip
    crms.set("allclients", remote(1, "Pat", "Doe", phone="312 555 0100"))
    crms.sync()
    assert _people() == set()

    crms.set("collect", remote("d1", "Pat", "Doe", phone="312-555-0100"),
             remote("c1", "Sam", "Doe", phone="312-555-0999"))  # fmt: skip
    crms.sync("collect")

    assert _people() == {frozenset({"collect:d1", "allclients:1"})}
    assert persons_match(full=True).moved == 0
