"""Publish task messages for actions: the broker is only a doorbell.

A single action is published as soon as its row is committed. A bulk run is not published
all at once: each connection keeps a small window of published-but-unclaimed actions (about
two seconds of its rate limit), filled by the sweeper and kept full by the batch actions
that finish (``refill``): at a low rate each one publishes the next; at a higher one, one
action in ``refill_step`` tops the window up, so that most actions spend no query on it.
So the broker never holds thousands of messages that the rate limit would keep waiting,
and an action still unclaimed long after it was published can safely be taken for lost
and published again (the claim makes a second delivery harmless).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from crmhub.actions.models import Action
from crmhub.celery import app
from crmhub.core import publishing, queues, rows

logger = logging.getLogger("crmhub.actions")

TASK_NAME = "crmhub.actions.tasks.action_execute"
#: The longest delay kept as a broker countdown; longer ones wait in ``not_before``.
MAX_COUNTDOWN_SECONDS = 60.0
MIN_WINDOW = 4
WINDOW_SECONDS = 2.0
#: A finishing action tops the window up once it may be short by this share of it.
REFILL_SHARE = 0.05


def publish(
    action_ids: Iterable[int], *, countdown: float | None = None, queue: str = queues.ACTIONS
) -> bool:
    """Send one ``action_execute`` message per id to ``queue`` (ids only, JSON); return
    whether it could.

    When the broker cannot be reached the actions stay queued, unpublished and marked with
    ``BROKER_DOWN``, so that the sweeper publishes them once it is back; nothing raises.
    """
    ids = list(action_ids)
    if not ids:
        return True

    def send() -> None:
        # One round trip for the lot where the broker can (Redis: a pipeline, flushed when
        # the block ends; a failed flush raises a KombuError, so the actions wait for the
        # sweeper, and a message that did arrive meanwhile is a harmless copy). The
        # embedded broker writes each message as it goes.
        with app.producer_or_acquire() as producer, producer.batch():
            for action_id in ids:
                app.send_task(
                    TASK_NAME,
                    args=[action_id],
                    countdown=countdown if countdown and countdown > 0 else None,
                    queue=queue,
                    producer=producer,
                )

    if publishing.publish_or_defer(send, what=f"{len(ids)} action(s)"):
        return True
    waiting = Action.objects.filter(pk__in=ids, state=Action.State.QUEUED)
    waiting.update(published_at=None)
    waiting.filter(error="").update(error=publishing.BROKER_DOWN)
    return False


def _publish_rows(rows: Iterable[tuple[int, str]]) -> bool:
    """Publish ``(action id, queue)`` rows, each to its own queue; return whether all went."""
    by_queue: dict[str, list[int]] = {}
    for action_id, queue in rows:
        by_queue.setdefault(queue, []).append(action_id)
    sent = [publish(ids, queue=queue) for queue, ids in by_queue.items()]
    return not any(result is False for result in sent)


def window(rate_limit: float) -> int:
    """Return how many actions of one connection may wait published but unclaimed."""
    return max(MIN_WINDOW, math.ceil(rate_limit * WINDOW_SECONDS))


def dispatch(*, connection_id: int, rate_limit: float, now: datetime | None = None) -> int:
    """Publish due, unpublished actions of one connection up to its window; return how many.

    In plain SQL (``crmhub.core.rows``): a bulk run dispatches every few actions, and the
    ORM spent more CPU building these statements than the database spent running them.
    """
    now = now or timezone.now()
    c, table = rows.columns(Action), rows.table(Action)
    queued = Action.State.QUEUED.value
    mine = f"{c['connection']} = %s AND {c['state']} = %s"
    with rows.database(Action).cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {table} WHERE {mine} AND {c['published_at']} IS NOT NULL",  # noqa: S608
            [connection_id, queued],
        )
        room = window(rate_limit) - int(cursor.fetchone()[0])
        if room <= 0:
            return 0
        due = f"{mine} AND {c['published_at']} IS NULL AND {c['not_before']} <= %s"
        due_params = [connection_id, queued, rows.value(Action, "not_before", now)]
        cursor.execute(
            f"SELECT {c['id']} FROM {table} WHERE {due} "  # noqa: S608
            f"ORDER BY {c['not_before']}, {c['id']} LIMIT %s",
            [*due_params, room],
        )
        ids = [int(row[0]) for row in cursor.fetchall()]
        if not ids:
            return 0
        # Only the rows this statement changed come back: a concurrent dispatcher's are not.
        marks = ", ".join(["%s"] * len(ids))
        cursor.execute(
            f"UPDATE {table} SET {c['published_at']} = %s "  # noqa: S608
            f"WHERE {c['id']} IN ({marks}) AND {due} "
            f"RETURNING {c['id']}, {c['queue']}, {c['error']}",
            [rows.value(Action, "published_at", timezone.now()), *ids, *due_params],
        )
        taken = cursor.fetchall()
    if _publish_rows((int(pk), queue) for pk, queue, _ in taken) is False:
        return 0  # the broker is down: left for the next sweep
    cleared = [int(pk) for pk, _, error in taken if error == publishing.BROKER_DOWN]
    if cleared:
        Action.objects.filter(
            pk__in=cleared, state=Action.State.QUEUED, error=publishing.BROKER_DOWN
        ).update(error="")
    return len(taken)


def refill_step(rate_limit: float) -> int:
    """Return every how many finished actions of a connection its window is topped up."""
    return max(1, int(window(rate_limit) * REFILL_SHARE))


def refill(*, connection_id: int, rate_limit: float, action_id: int) -> int:
    """Keep the connection's window full as action ``action_id`` of a batch finishes; return
    how many actions were published.

    At a low rate, one out, one in (``dispatch_next``). At a higher one only the action
    whose id is a multiple of ``refill_step`` refills, up to the whole window: the ids of a
    batch are consecutive, so on average one is published per action finished, the window
    is never short by much more than a step per worker, and a shortfall does not last
    (the next refill, or the sweeper, tops it up).
    """
    step = refill_step(rate_limit)
    if step == 1:
        return int(dispatch_next(connection_id=connection_id))
    if action_id % step:
        return 0
    return dispatch(connection_id=connection_id, rate_limit=rate_limit)


def dispatch_next(*, connection_id: int) -> bool:
    """Publish the connection's next due, unpublished action (one out, one in); return if any."""
    now = timezone.now()
    due = Action.objects.filter(
        connection_id=connection_id,
        state=Action.State.QUEUED,
        published_at__isnull=True,
        not_before__lte=now,
    )
    for action_id, queue in due.order_by("not_before", "id").values_list("id", "queue")[:3]:
        if due.filter(pk=action_id).update(published_at=now):
            publish([action_id], queue=queue)
            return True
    return False
