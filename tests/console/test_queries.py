"""The pages' SQL query counts do not grow with the data (no N+1)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crmhub.actions.models import Action
from crmhub.contacts.matching.corrections import person_join
from tests.console.conftest import index, make_action, remote

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> int:  # type: ignore[no-untyped-def]
    cache.clear()  # counted without the short caches of the dashboard
    with CaptureQueriesContext(db) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def _grow(connections, ann, operator, n: int) -> None:  # type: ignore[no-untyped-def]
    """Add ``n`` people in two CRMs each, and actions of every kind on Ann."""
    for kind in ("allclients", "collect"):
        index(
            connections[kind],
            [
                remote(
                    f"{'debtor:' if kind == 'collect' else ''}{900 + i}",
                    "Ann",
                    f"Grow{i}",
                    email=f"ann.grow{i}@example.com",
                    record_type="debtor" if kind == "collect" else "person",
                )
                for i in range(n)
            ],
        )
    for i in range(n):
        for kind in ("allclients", "apptivo", "crmcom"):
            make_action(
                connections[kind],
                "run_action_set",
                contact=ann[kind],
                user=operator,
                state=Action.State.FAILED if i % 2 else Action.State.SUCCEEDED,
            )


@pytest.mark.parametrize(
    "page", ["contacts", "contacts-query", "person", "dashboard", "actions", "connections"]
)
def test_query_counts_stay_flat_as_data_grows(client, operator, ann, connections, page):
    client.force_login(operator)
    urls = {
        "contacts": reverse("console:contact-list"),
        "contacts-query": reverse("console:contact-list") + "?q=ann",
        "person": reverse("console:person-detail", args=[ann["allclients"].person_id]),
        "dashboard": reverse("console:dashboard"),
        "actions": reverse("console:action-list"),
        "connections": reverse("console:connection-list"),
    }
    _grow(connections, ann, operator, 2)
    small = _queries(client, urls[page])
    _grow(connections, ann, operator, 30)
    large = _queries(client, urls[page])
    assert large <= small, (page, small, large)


def test_a_person_with_more_records_in_one_crm_costs_no_more_queries(
    client, operator, ann, connections
):
    """Each CRM.COM record shows its communications: read for all records at once."""
    client.force_login(operator)
    url = reverse("console:person-detail", args=[ann["allclients"].person_id])
    make_action(connections["crmcom"], "communications_list", contact=ann["crmcom"], user=operator)
    one = _queries(client, url)
    twins = index(  # the same person twice more in CRM.COM, joined by staff (a key two
        connections["crmcom"],  # records of one CRM hold identifies nobody)
        [remote(f"twin-{n}", "Ann", "Lee", email=f"ann.lee+{n}@example.com") for n in (1, 2)],
    )
    for twin in twins:
        person_join(contact=ann["allclients"], other=twin, user=operator)
        twin.refresh_from_db()
    assert {twin.person_id for twin in twins} == {ann["allclients"].person_id}
    for twin in twins:
        make_action(connections["crmcom"], "communications_list", contact=twin, user=operator)
    response = client.get(url)
    assert response.content.count(b'id="communications-') >= 3  # a region per record
    assert _queries(client, url) == one


def test_the_pages_stay_within_their_budget(
    client, operator, ann, connections, django_assert_max_num_queries
):
    client.force_login(operator)
    _grow(connections, ann, operator, 10)
    budgets = {
        reverse("console:contact-list") + "?q=ann": 12,
        reverse("console:person-detail", args=[ann["allclients"].person_id]): 18,
        reverse("console:dashboard"): 10,
    }
    for url, budget in budgets.items():
        cache.clear()
        with django_assert_max_num_queries(budget):
            client.get(url)


def test_a_bulk_run_page_costs_the_same_with_more_results(client, operator, ann, connections):
    """Results by state, counts, retry and check numbers: a fixed number of queries."""
    from crmhub.actions.models import Batch

    client.force_login(operator)
    batch = Batch.objects.create(
        operation="run_action_set", connection=connections["allclients"], size=0
    )
    states = ("succeeded", "failed", "unknown", "cancelled")

    def grow(n: int) -> None:
        for i in range(n):
            make_action(
                connections["allclients"],
                "run_action_set",
                contact=ann["allclients"],
                state=states[i % len(states)],
                batch=batch,
            )
        Batch.objects.filter(pk=batch.pk).update(size=batch.actions.count())

    url = reverse("console:batch-detail", args=[batch.pk])
    grow(4)
    small = _queries(client, url), _queries(client, url + "?state=failed")
    grow(80)
    large = _queries(client, url), _queries(client, url + "?state=failed")
    assert large <= small, (small, large)
    retry = reverse("console:batch-retry", args=[batch.pk])
    assert _queries(client, retry) <= 10


def test_an_action_page_costs_the_same_with_more_attempts_and_checks(
    client, operator, ann, connections
):
    from crmhub.actions.models import Attempt

    client.force_login(operator)
    action = make_action(
        connections["apptivo"],
        "create_customer",
        state=Action.State.UNKNOWN,
        params={"customer_name": "Zed"},
    )
    url = reverse("console:action-detail", args=[action.pk])

    def grow(n: int) -> None:
        start = action.attempt_set.count()
        for number in range(start + 1, start + n + 1):
            Attempt.objects.create(action=action, number=number)
            make_action(connections["apptivo"], "search_customers", safe=True, check_of=action)

    grow(1)
    small = _queries(client, url)
    grow(20)
    assert _queries(client, url) <= small
