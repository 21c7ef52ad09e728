"""Start-up checks of the timings that keep actions safe (``manage.py check``; migrate).

* A claimed action's lease must outlast the task that holds it: the hard time limit plus
  the longest wait for a rate-limit slot. A shorter lease lets the sweeper take a live
  worker's action for lost (a change is then marked unknown, a read sent twice).
* A Collect! plan's prompt wait and the plan's run after the answer must fit in the task's
  soft time limit, or a plan waiting for a person would be stopped midway by the limit.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def action_timings_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Return an error for each timing setting that would make actions unsafe."""
    errors: list[Error] = []
    lease = settings.CRMHUB_ACTION_LEASE_SECONDS
    hard = settings.CELERY_TASK_TIME_LIMIT
    soft = settings.CELERY_TASK_SOFT_TIME_LIMIT
    rate_wait = settings.CRMHUB_RATE_MAX_WAIT_SECONDS
    if lease < hard + rate_wait:
        errors.append(
            Error(
                f"CRMHUB_ACTION_LEASE_SECONDS ({lease:g} s) is shorter than the task's hard "
                f"time limit ({hard:g} s) plus the longest rate-limit wait "
                f"(CRMHUB_RATE_MAX_WAIT_SECONDS, {rate_wait:g} s): the sweeper would take "
                "live workers' actions for lost.",
                hint=f"Set CRMHUB_ACTION_LEASE_SECONDS to at least {hard + rate_wait:g}.",
                id="crmhub.E001",
            )
        )
    prompt = settings.CRMHUB_PROMPT_TIMEOUT_SECONDS
    idle = settings.CRMHUB_PLAN_IDLE_SECONDS
    if prompt + idle > soft:
        errors.append(
            Error(
                f"A Collect! prompt's wait (CRMHUB_PROMPT_TIMEOUT_SECONDS, {prompt:g} s) and "
                f"the plan's run after it (CRMHUB_PLAN_IDLE_SECONDS, {idle:g} s) do not fit in "
                f"the task's soft time limit ({soft:g} s): plans would be stopped midway.",
                hint="Shorten CRMHUB_PROMPT_TIMEOUT_SECONDS or CRMHUB_PLAN_IDLE_SECONDS.",
                id="crmhub.E002",
            )
        )
    return errors
