"""What carrying out an action costs the worker, in queries: bounds that must not creep up.

The fan-out's rate at a high limit is bound by the workers' CPU, most of it spent in the
ORM, so the number of statements per action is held here (the bench measures the time).
"""

from __future__ import annotations

import pytest

from crmhub.actions import dispatch, executor
from crmhub.actions.models import Action, RateBucket
from crmhub.actions.services import action_enqueue, batch_enqueue
from crmhub.actions.sweeper import actions_sweep
from tests.actions.conftest import make_contacts

pytestmark = pytest.mark.django_db

#: Received (an update, a read), paced (the bucket read and written), claimed (an update
#: and the attempt's insert, in a transaction), recorded (two updates, in a transaction).
#: Each transaction counts its start and end too (BEGIN and COMMIT, or a savepoint's).
QUERIES_PER_ACTION = 12


@pytest.fixture
def bucket(connection):  # type: ignore[no-untyped-def]
    """The connection's rate bucket, as its first action leaves it."""
    return RateBucket.objects.create(connection_id=connection.pk)


@pytest.fixture(autouse=True)
def _database_store(settings):  # type: ignore[no-untyped-def]
    """The buckets in the database, whatever the broker (the costlier store)."""
    settings.CRMHUB_RATE_LIMIT_STORE = "database"


def test_an_action_takes_a_bounded_number_of_queries(
    connection, contact, bucket, fake_crm, published, django_assert_max_num_queries
):
    action = action_enqueue(
        operation="touch", connection=connection, contact=contact, params={}, user=None
    )
    with django_assert_max_num_queries(QUERIES_PER_ACTION):
        assert executor.action_execute(action_id=action.pk, task_id="t") == "succeeded"


@pytest.mark.parametrize(("rate", "step"), [(0, 1), (2, 1), (5, 1), (40, 4), (100, 10)])
def test_the_window_is_refilled_every_few_actions_at_a_higher_rate(rate, step):
    assert dispatch.refill_step(rate) == step


def test_most_batch_actions_spend_no_query_on_the_window(
    connection, bucket, fake_crm, published, django_assert_max_num_queries
):
    connection.rate_limit = 100  # a window of 200, refilled every 10 actions
    connection.save()
    contacts = make_contacts(connection, 250)
    batch = batch_enqueue(
        operation="touch",
        connection=connection,
        params={},
        user=None,
        contact_ids=[c.pk for c in contacts],
    )
    assert actions_sweep()["published"] == 200
    ids = list(Action.objects.filter(batch=batch).order_by("pk").values_list("pk", flat=True))
    # Ten published actions, the last of them the one whose id is a multiple of the step.
    start = next(index for index, pk in enumerate(ids) if pk % 10 == 1)
    ten = ids[start : start + 10]
    for pk in ten:
        if pk % 10:
            with django_assert_max_num_queries(QUERIES_PER_ACTION):
                executor.action_execute(action_id=pk, task_id=f"t{pk}")
        else:
            executor.action_execute(action_id=pk, task_id=f"t{pk}")
    # That one topped the window up again: ten out, ten in, the oldest waiting.
    assert len(published) == 210
    assert sorted(pk for pk, _ in published[200:]) == ids[200:210]
    assert Action.objects.filter(pk__in=ten, state=Action.State.SUCCEEDED).count() == 10
