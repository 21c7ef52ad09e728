"""Crash hooks for the reliability tests: a worker kills itself at a named point.

Active only when the environment says so (``CRMHUB_FAULT``, read into the settings), which
only the tests' worker subprocesses do:

* ``before_claim`` — a message was received and counted, nothing claimed yet;
* ``before_send``  — the action is claimed, nothing sent yet;
* ``after_send``   — the remote received the request and answered, but the worker dies
  before reading the answer (the first answer to a call that is not a login);
* ``after_response`` — the connector returned, the outcome is not committed yet.

``CRMHUB_FAULT_MODE`` says when: ``always`` (the default: every time, a poison message) or
``half`` (only the first try of actions with an even id, so a run has both outcomes).
"""

from __future__ import annotations

import os
import re
import signal
from typing import Any

from django.conf import settings

from crmhub.connectors.base import Connector

POINTS = ("before_claim", "before_send", "after_send", "after_response")
_AUTH_CALL = re.compile(r"auth|login|token", re.IGNORECASE)


def _armed(point: str, *, action_id: int, first_try: bool) -> bool:
    if point != settings.CRMHUB_FAULT:
        return False
    if settings.CRMHUB_FAULT_MODE == "half":
        return first_try and action_id % 2 == 0
    return True


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def fault_point(point: str, *, action_id: int, first_try: bool) -> None:
    """Kill this process with SIGKILL when the tests asked for a crash at ``point``."""
    if _armed(point, action_id=action_id, first_try=first_try):
        _die()


def arm_after_send(connector: Connector, *, action_id: int, first_try: bool) -> None:
    """Make ``connector`` kill the process when its first non-login answer arrives."""
    if not _armed("after_send", action_id=action_id, first_try=first_try):
        return

    def on_response(response: Any, *args: Any, **kwargs: Any) -> None:
        if not _AUTH_CALL.search(response.request.url or ""):
            _die()

    connector.http.session.hooks["response"].append(on_response)
