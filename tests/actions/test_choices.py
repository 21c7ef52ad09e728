"""Choice lists: the CRM's, an admin's and what worked before; an unknown value is refused."""

from __future__ import annotations

import pytest

from crmhub.actions.choices import choices_check, choices_known
from crmhub.actions.errors import InvalidAct
from crmhub.actions.models import Action, Batch
from crmhub.actions.services import action_enqueue, batch_enqueue
from crmhub.connections.choices import choice_list
from crmhub.connections.models import ConnectionChoice
from tests.console.conftest import make_action

pytestmark = pytest.mark.django_db


def _keep(connection, name: str, *values: str) -> None:  # type: ignore[no-untyped-def]
    for value in values:
        ConnectionChoice.objects.create(connection=connection, list_name=name, value=value)


def test_without_a_list_anything_goes_and_what_worked_is_offered(connections, ann):
    allclients = connections["allclients"]
    make_action(allclients, "run_action_set", params={"action_set_name": "Welcome Series"})
    make_action(allclients, "run_action_set", state="failed", params={"action_set_name": "Nope"})
    known = choices_known(connection=allclients, item=choice_list("allclients", "action_set"))
    assert [c.value for c in known.choices] == ["Welcome Series"] and not known.strict
    choices_check(connection=allclients, operation="run_action_set",
                  params={"action_set_name": "Anything"})  # fmt: skip


def test_an_admin_list_makes_other_values_refused_before_anything_is_queued(
    connections, ann, published
):
    allclients = connections["allclients"]
    _keep(allclients, "action_set", "Welcome Series", "101")
    make_action(allclients, "run_action_set", params={"action_set_id": 104})
    before = Action.objects.count()
    with pytest.raises(InvalidAct) as refused:
        action_enqueue(
            operation="run_action_set",
            connection=allclients,
            contact=ann["allclients"],
            params={"action_set_name": "welcome series", "identify_method": 1},
            user=None,
        )
    assert refused.value.errors == {
        "action_set_name": [
            "'welcome series' is not a known action set of this connection. "
            "Did you mean 'Welcome Series'?"
        ]
    }
    assert Action.objects.count() == before
    with pytest.raises(InvalidAct, match="action_set_id"):
        action_enqueue(operation="run_action_set", connection=allclients,
                       contact=ann["allclients"], params={"action_set_id": 999,
                       "identify_method": 1}, user=None)  # fmt: skip
    for params in ({"action_set_name": "Welcome Series"}, {"action_set_id": 101},
                   {"action_set_id": 104}):  # fmt: skip
        action_enqueue(operation="run_action_set", connection=allclients,
                       contact=ann["allclients"], params={**params, "identify_method": 1},
                       user=None)  # fmt: skip


def test_collect_plans_come_from_the_crm_read_and_refuse_a_guess(connections, ann, published):
    collect = connections["collect"]
    make_action(collect, "list_plans", safe=True, result={"data": {"plans": [
        {"code": "REV", "description": "Review account"}, {"code": "PRM"}]}})  # fmt: skip
    known = choices_known(connection=collect, item=choice_list("collect", "plan"))
    assert [(c.value, c.source) for c in known.choices] == [("PRM", "crm"), ("REV", "crm")]
    assert known.strict and known.by_value["REV"].note == "Review account"
    with pytest.raises(InvalidAct, match="not a known contact plan"):
        batch_enqueue(operation="run_plan", connection=collect, params={"plan": "XYZ"},
                      user=None, contact_ids=[ann["collect"].pk])  # fmt: skip
    assert not Batch.objects.exists()
    batch = batch_enqueue(operation="run_plan", connection=collect, params={"plan": "REV"},
                          user=None, contact_ids=[ann["collect"].pk])  # fmt: skip
    assert batch.size == 1


def test_crmcom_templates_from_the_admin_list(connections, ann, published):
    crmcom = connections["crmcom"]
    _keep(crmcom, "template", "Payment Reminder")
    with pytest.raises(InvalidAct, match="not a known communication template"):
        choices_check(connection=crmcom, operation="communication_create",
                      params={"template": "Payment reminders"})  # fmt: skip
    choices_check(connection=crmcom, operation="communication_create",
                  params={"template": "Payment Reminder"})  # fmt: skip
    # A communication without a template names no list value: nothing to check.
    choices_check(connection=crmcom, operation="communication_create", params={"subject": "x"})
