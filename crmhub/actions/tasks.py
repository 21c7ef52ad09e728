"""Celery tasks of the actions app: thin, ids only, the work is in executor and sweeper."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from crmhub.actions import executor, sweeper


@shared_task(
    name="crmhub.actions.tasks.action_execute",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def action_execute(self: Any, action_id: int) -> str:
    """Carry out one action (every delivery of it after the first is harmless)."""
    return executor.action_execute(action_id=int(action_id), task_id=self.request.id or "")


@shared_task(name="crmhub.actions.tasks.actions_sweep", ignore_result=True)
def actions_sweep() -> dict[str, int]:
    """Resolve lost workers, republish lost messages, dispatch due actions, finish batches."""
    return sweeper.actions_sweep()


@shared_task(name="crmhub.actions.tasks.housekeeping", ignore_result=True)
def housekeeping() -> dict[str, int]:
    """Clean what the embedded broker leaves behind."""
    return sweeper.housekeeping()
