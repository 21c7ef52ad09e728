"""The dashboard: what needs a person, what happened lately, the activity chart."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from crmhub.actions import selectors as action_selectors
from crmhub.actions.models import Action, Batch
from crmhub.console import selectors
from crmhub.contacts.models import SyncRun
from tests.console.conftest import make_action

pytestmark = pytest.mark.django_db


def test_attention_lists_unknown_failed_and_waiting_but_not_resent_or_bulk(
    connections, ann, operator
):
    allclients = connections["allclients"]
    unknown = make_action(allclients, "run_action_set", state=Action.State.UNKNOWN)
    failed = make_action(allclients, "add_contact_link", state=Action.State.FAILED)
    waiting = make_action(connections["collect"], "run_plan", state=Action.State.NEEDS_INPUT)
    resent = make_action(allclients, "run_action_set", state=Action.State.FAILED)
    make_action(allclients, "run_action_set", resend_of=resent)
    batch = Batch.objects.create(operation="run_action_set", connection=allclients, size=2)
    make_action(allclients, "run_action_set", state=Action.State.FAILED, batch=batch)
    bulk_unknown = make_action(
        allclients, "run_action_set", state=Action.State.UNKNOWN, batch=batch
    )
    make_action(allclients, "get_categories", state=Action.State.FAILED, safe=True)
    listed = action_selectors.actions_needing_attention()
    assert set(listed) == {unknown, failed, waiting, bulk_unknown}
    assert listed == sorted(listed, key=lambda a: (a.created_at, a.pk), reverse=True)
    # Counted: what still needs someone (the resent failure and the read are not).
    assert action_selectors.attention_counts() == {"unknown": 2, "failed": 2, "needs_input": 1}


def test_attention_is_read_in_one_query_whatever_the_states(connections, django_assert_num_queries):
    allclients = connections["allclients"]
    made = [
        make_action(allclients, "run_action_set", state=state)
        for state in (Action.State.UNKNOWN, Action.State.FAILED, Action.State.NEEDS_INPUT) * 4
    ]
    with django_assert_num_queries(1):
        listed = action_selectors.actions_needing_attention(limit=5)
        assert [action.connection.name for action in listed]  # relations come with them
    # The five newest of the pooled latest of each state, newest first.
    assert listed == sorted(made, key=lambda a: (a.created_at, a.pk), reverse=True)[:5]


def test_the_chart_counts_actions_and_syncs_per_day(connections):
    cache.clear()
    now = timezone.now()
    make_action(connections["allclients"], "run_action_set")
    old = make_action(connections["allclients"], "run_action_set")
    Action.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=2))
    Action.objects.filter(pk=make_action(connections["apptivo"], "get_config").pk).update(
        created_at=now - timedelta(days=40)
    )
    SyncRun.objects.create(connection=connections["crmcom"], mode="full", state="succeeded")
    data = selectors.activity_per_day(days=14)
    assert len(data["labels"]) == 14 and data["labels"][-1] == timezone.localdate().isoformat()
    assert data["actions"][-1] == 1 and data["actions"][-3] == 1 and sum(data["actions"]) == 2
    assert data["syncs"][-1] == 1


def test_the_dashboard_feeds_the_chart_through_a_json_island(client, viewer, connections):
    cache.clear()
    client.force_login(viewer)
    html = client.get(reverse("console:dashboard")).content.decode()
    assert '<script id="activity-data" type="application/json">' in html
    assert "<script>" not in html  # nothing inline to execute (CSP)
    assert "chart-4.6.1.umd.min.js" in html and 'id="activity-chart"' in html
