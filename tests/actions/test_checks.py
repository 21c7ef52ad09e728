"""Closing the loop on unknown outcomes: a person's verdict, a check read and its proposal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crmhub.actions import selectors
from crmhub.actions.checks import (
    action_check_request,
    action_mark_checked,
    check_for,
    check_proposal,
)
from crmhub.actions.models import Action
from crmhub.actions.services import ActionStateError
from tests.console.conftest import make_action

pytestmark = pytest.mark.django_db


def test_a_person_records_what_they_found_without_resending(connections, ann, operator):
    unknown = make_action(
        connections["allclients"], "run_action_set", contact=ann["allclients"], state="unknown"
    )
    before = Action.objects.count()
    note = "  Seen in AllClients "
    action_mark_checked(action=unknown, verdict="happened", note=note, user=operator)
    unknown.refresh_from_db()
    assert unknown.checked_by == operator and unknown.checked_at is not None
    assert (unknown.check_verdict, unknown.check_note) == ("happened", "Seen in AllClients")
    assert unknown.state == Action.State.UNKNOWN and Action.objects.count() == before
    with pytest.raises(ActionStateError, match="Already checked by operator"):
        action_mark_checked(action=unknown, verdict="not_happened", user=operator)


@pytest.mark.parametrize(
    ("state", "verdict"),
    [("unknown", "dismissed"), ("failed", "happened"), ("succeeded", "happened")],
)
def test_a_verdict_must_fit_the_state(connections, operator, state, verdict):
    action = make_action(connections["allclients"], "run_action_set", state=state)
    with pytest.raises(ActionStateError):
        action_mark_checked(action=action, verdict=verdict, user=operator)


def test_the_dashboard_counts_the_latest_of_each_intent_not_checked(connections, ann, operator):
    allclients = connections["allclients"]
    first = make_action(allclients, "run_action_set", state="unknown")
    resent = make_action(allclients, "run_action_set", state="failed", resend_of=first)
    checked = make_action(allclients, "run_action_set", state="unknown")
    make_action(allclients, "run_action_set", state="unknown")
    make_action(allclients, "get_categories", state="failed", safe=True)
    assert selectors.attention_counts()["unknown"] == 2  # the resent one counts no more
    assert selectors.attention_counts()["failed"] == 1
    action_mark_checked(action=checked, verdict="not_happened", user=operator)
    counts = selectors.attention_counts()
    assert counts == {"unknown": 1, "failed": 1, "needs_input": 0}
    for state, count in counts.items():
        rows = selectors.action_page(state=state, open_only=True, limit=100).rows
        assert len(rows) == count == selectors.actions_open(state=state).count()
    assert [a.pk for a in selectors.action_page(open_only=True).rows] == [
        a.pk for a in selectors.actions_open().order_by("-created_at", "-id")
    ]
    assert resent in selectors.actions_open()


def _customer_action(connections, operation: str, **params):  # type: ignore[no-untyped-def]
    return make_action(connections["apptivo"], operation, state="unknown", params=params)


def _read(check: Action, data: dict) -> Action:
    Action.objects.filter(pk=check.pk).update(
        state="succeeded", result={"message": "ok", "data": data}, finished_at=timezone.now()
    )
    check.refresh_from_db()
    return check


def test_the_apptivo_search_checks_a_customer_that_may_have_been_created(
    connections, operator, django_capture_on_commit_callbacks
):
    action = _customer_action(
        connections, "create_customer", customer_name="Zed Quartermain", email="zed@example.com"
    )
    with django_capture_on_commit_callbacks():
        check = action_check_request(action=action, user=operator)
    assert (check.operation, check.safe, check.check_of) == ("search_customers", True, action)
    assert check.params == {"search_text": "Zed Quartermain", "limit": 50}
    # Asked again while it runs: the same read.
    assert action_check_request(action=action, user=operator) == check
    assert check_proposal(action=action, check=check) is None  # not back yet
    found = {"customers": [{"customer_id": "77", "customer_name": "Zed Quartermain",
                            "emails": ["ZED@example.com"], "phones": []}]}  # fmt: skip
    proposal = check_proposal(action=action, check=_read(check, found))
    assert proposal is not None and proposal.verdict == "happened"
    assert "#77" in proposal.reason
    other = {"customers": [{"customer_id": "78", "customer_name": "Zed Quartermain",
                            "emails": ["other@example.com"]}]}  # fmt: skip
    assert check_proposal(action=action, check=_read(check, other)).verdict == "not_happened"


def test_a_deleted_customer_is_checked_by_its_absence(connections, ann, operator):
    action = make_action(
        connections["apptivo"],
        "delete_customer",
        contact=ann["apptivo"],
        state="unknown",
        params={"contact_remote_id": "9001"},
    )
    assert check_for(action).params(action)["search_text"] == "Ann Lee"
    check = make_action(connections["apptivo"], "search_customers", safe=True, check_of=action)
    still = {"customers": [{"customer_id": "9001", "customer_name": "Ann Lee"}]}
    assert check_proposal(action=action, check=_read(check, still)).verdict == "not_happened"
    gone = check_proposal(action=action, check=_read(check, {"customers": []}))
    assert gone.verdict == "happened"


def test_crmcom_communications_of_the_contact_check_a_communication(
    connections, ann, operator, django_capture_on_commit_callbacks
):
    action = make_action(
        connections["crmcom"],
        "communication_create",
        contact=ann["crmcom"],
        state="unknown",
        params={"contact_remote_id": "C-1", "subject": "Your statement", "media": "EMAIL"},
    )
    with django_capture_on_commit_callbacks():
        check = action_check_request(action=action, user=operator)
    assert check.operation == "communications_list" and check.contact == ann["crmcom"]
    old = (action.created_at - timedelta(days=3)).isoformat()
    new = timezone.now().isoformat()
    before = {"communications": [{"number": "CM1", "subject": "Your statement", "updated_at": old}]}
    assert check_proposal(action=action, check=_read(check, before)).verdict == "not_happened"
    after = {"communications": [{"number": "CM2", "subject": "your statement", "updated_at": new}]}
    proposal = check_proposal(action=action, check=_read(check, after))
    assert proposal.verdict == "happened" and "CM2" in proposal.reason


def test_only_an_unchecked_unknown_outcome_of_a_checkable_act_is_checked(
    connections, ann, operator
):
    run = make_action(connections["allclients"], "run_action_set", state="unknown")
    with pytest.raises(ActionStateError, match="cannot be checked by crmhub"):
        action_check_request(action=run, user=operator)
    done = _customer_action(connections, "create_customer", customer_name="Zed")
    action_mark_checked(action=done, verdict="happened", user=operator)
    with pytest.raises(ActionStateError, match="nobody has checked"):
        action_check_request(action=done, user=operator)
