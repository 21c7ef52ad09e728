"""Relay a running Collect! plan's prompts to a person and their answers back.

The connector calls the relay with each ``Prompt`` arriving on the plan's Web Socket. The
relay puts the action in ``needs_input`` with the prompt, then polls the row until someone
answers (``services.action_answer``) or the timeout passes. It returns the answer values
(the action is ``sending`` again) or ``None``: the connector then gives up, the plan is
cancelled on the server (which rolls back) and the action says so.

Waits are budgeted against the task's time limit (``until``): a prompt waits its timeout
or what is left of the budget, whichever is shorter, and is not shown at all when too
little is left (the plan is cancelled rather than stopped by the time limit midway).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from crmhub.actions.models import Action
from crmhub.connectors.base import Prompt

logger = logging.getLogger("crmhub.actions")

POLL_SECONDS = 0.5
#: A prompt is not worth showing for less than this: the plan is cancelled instead.
MIN_WAIT_SECONDS = 5.0


class PromptRelay:
    """The ``on_prompt`` handler of one attempt of one action."""

    def __init__(
        self,
        *,
        action_id: int,
        attempt: int,
        timeout: float | None = None,
        poll: float = POLL_SECONDS,
        until: float | None = None,
    ) -> None:
        self.action_id = action_id
        self.attempt = attempt
        self.timeout = settings.CRMHUB_PROMPT_TIMEOUT_SECONDS if timeout is None else timeout
        self.poll = poll
        #: The ``time.monotonic()`` by which every wait must be over (the task's budget).
        self.until = until
        self.timed_out = False
        #: Set when the budget left no time to wait for an answer at all.
        self.out_of_time = False

    def _wait(self) -> float | None:
        """Return how long the next prompt may wait: its timeout, within the budget (None
        when too little of the budget is left to show the prompt at all)."""
        if self.until is None:
            return self.timeout
        left = self.until - time.monotonic()
        if left < min(self.timeout, MIN_WAIT_SECONDS):
            return None
        return min(self.timeout, left)

    def _mine(self, state: str) -> Any:
        return Action.objects.filter(pk=self.action_id, attempts=self.attempt, state=state)

    def __call__(self, prompt: Prompt) -> Mapping[str, Any] | None:
        """Return the answer to ``prompt``, or ``None`` if nobody answered in time."""
        wait = self._wait()
        if wait is None:
            self.out_of_time = self.timed_out = True
            logger.info("action %s: no time left in the task to wait for an answer", self.action_id)
            return None
        now = timezone.now()
        lease = timedelta(seconds=wait + settings.CRMHUB_ACTION_LEASE_SECONDS)
        waiting = self._mine(Action.State.SENDING).update(
            state=Action.State.NEEDS_INPUT,
            prompt={**asdict(prompt), "fields": [dict(f) for f in prompt.fields]},
            answer=None,
            lease_until=now + lease,
            updated_at=now,
        )
        if not waiting:
            return None
        logger.info("action %s waits for an answer to prompt %s", self.action_id, prompt.prompt_id)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            time.sleep(self.poll)
            answer = self._take_answer()
            if answer is not None:
                return answer
            if not self._mine(Action.State.NEEDS_INPUT).exists():
                return None
        return self._give_up()

    def _take_answer(self) -> Mapping[str, Any] | None:
        row = Action.objects.filter(pk=self.action_id).values("answer").first()
        answer = row["answer"] if row else None
        if answer is None:
            return None
        now = timezone.now()
        self._mine(Action.State.NEEDS_INPUT).update(
            state=Action.State.SENDING,
            lease_until=now + timedelta(seconds=settings.CRMHUB_ACTION_LEASE_SECONDS),
            updated_at=now,
        )
        return dict(answer)

    def _give_up(self) -> Mapping[str, Any] | None:
        """Leave ``needs_input`` unanswered, unless an answer came at the last moment."""
        now = timezone.now()
        left = (
            self._mine(Action.State.NEEDS_INPUT)
            .filter(answer__isnull=True)
            .update(
                state=Action.State.SENDING,
                lease_until=now + timedelta(seconds=settings.CRMHUB_ACTION_LEASE_SECONDS),
                updated_at=now,
            )
        )
        if left:
            self.timed_out = True
            logger.info("action %s: prompt not answered in time", self.action_id)
            return None
        return self._take_answer()
