"""The Celery app: JSON only, late ack, ids in messages, its queues, the periodic schedule."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

from crmhub.core import queues

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crmhub.settings")

app = Celery("crmhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = tuple(Queue(name) for name in queues.ALL)
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule(sender: Celery, **_: object) -> None:
    """Register the beat schedule from settings (read when the app is finalised)."""
    from django.conf import settings

    sender.conf.beat_schedule = {
        "sweep-actions": {
            "task": "crmhub.actions.tasks.actions_sweep",
            "schedule": settings.CRMHUB_SWEEP_SECONDS,
            "options": {
                "queue": queues.HOUSEKEEPING,
                "expires": settings.CRMHUB_SWEEP_SECONDS * 4,
            },
        },
        "dispatch-syncs": {
            "task": "crmhub.contacts.tasks.syncs_dispatch",
            "schedule": settings.CRMHUB_DISPATCH_SECONDS,
            "options": {
                "queue": queues.HOUSEKEEPING,
                "expires": settings.CRMHUB_DISPATCH_SECONDS * 4,
            },
        },
        "housekeeping": {
            "task": "crmhub.actions.tasks.housekeeping",
            "schedule": 3600.0,
            "options": {"queue": queues.HOUSEKEEPING, "expires": 3000},
        },
    }
