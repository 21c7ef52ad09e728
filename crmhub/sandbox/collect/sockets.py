"""Open Web Sockets of the simulated Collect! server, reachable from the plan-running threads.

The socket lives on the server's event loop (``crmhub.sandbox.websocket``); a running plan
is a sync view on a worker thread of the same process. Each socket registers here as
``websocket-id -> (event loop, async sender, thread-safe queue of answers)``: the plan sends
a prompt with ``asyncio.run_coroutine_threadsafe`` and waits for the answer on the queue.

Protocol (crmhub's decision, the documents being silent): the server's first message is
``{"websocket-id": id}``; a prompt is ``{"type": "prompt", "prompt_id", "message",
"fields": [...]}``; the client answers ``{"type": "answer", "prompt_id", "values": {...}}``;
the end of a plan is ``{"type": "done", "ok": bool, "message"}``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import queue
import secrets
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("crmhub.sandbox.collect")

#: Put on a session's queue when its socket closes, so a waiting plan stops at once.
CLOSED = object()

Sender = Callable[[dict[str, Any]], Awaitable[None]]


class PromptFailed(Exception):
    """The prompt got no usable answer: socket closed, timed out or unusable."""


@dataclass
class SocketSession:
    websocket_id: str
    loop: asyncio.AbstractEventLoop
    sender: Sender
    answers: queue.Queue[Any] = field(default_factory=queue.Queue)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send_json(self, message: dict[str, Any]) -> None:
        """Send one text frame (on the event loop; one frame at a time)."""
        async with self.lock:
            await self.sender({"type": "websocket.send", "text": json.dumps(message)})


_sessions: dict[str, SocketSession] = {}
_sessions_lock = threading.Lock()


def new_websocket_id() -> str:
    """Return a fresh id shaped like the documented one (16 bytes, base64)."""
    return base64.b64encode(secrets.token_bytes(16)).decode()


def open_session(*, loop: asyncio.AbstractEventLoop, sender: Sender) -> SocketSession:
    """Register a newly accepted socket and return its session."""
    session = SocketSession(websocket_id=new_websocket_id(), loop=loop, sender=sender)
    with _sessions_lock:
        _sessions[session.websocket_id] = session
    return session


def close_session(websocket_id: str) -> None:
    """Forget a closed socket and wake any plan waiting on it."""
    with _sessions_lock:
        session = _sessions.pop(websocket_id, None)
    if session is not None:
        session.answers.put(CLOSED)


def get_session(websocket_id: str) -> SocketSession | None:
    """Return the open socket with ``websocket_id``, or None."""
    with _sessions_lock:
        return _sessions.get(websocket_id)


def deliver(session: SocketSession, text: str) -> None:
    """Queue a client message if it is an answer; ignore anything else."""
    try:
        message = json.loads(text)
    except ValueError:
        logger.info("collect socket %s: ignored a non-JSON message", session.websocket_id)
        return
    if isinstance(message, dict) and message.get("type") == "answer":
        session.answers.put(message)


def send_from_thread(
    session: SocketSession, message: dict[str, Any], *, timeout: float = 5
) -> bool:
    """Send ``message`` from a worker thread; return whether it went out."""
    if get_session(session.websocket_id) is None:
        return False
    future = asyncio.run_coroutine_threadsafe(session.send_json(message), session.loop)
    try:
        future.result(timeout=timeout)
    except Exception:  # a closed socket or a stopped loop: the plan cannot prompt
        logger.info("collect socket %s: send failed", session.websocket_id, exc_info=True)
        return False
    return True


def ask(
    session: SocketSession, *, message: str, fields: list[dict[str, Any]], timeout: float
) -> dict[str, Any]:
    """Send a prompt and return the answer's values; raise ``PromptFailed`` otherwise."""
    prompt_id = uuid.uuid4().hex
    prompt = {"type": "prompt", "prompt_id": prompt_id, "message": message, "fields": fields}
    if not send_from_thread(session, prompt):
        raise PromptFailed("the Web Socket is closed")
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            answer = session.answers.get(timeout=remaining)
        except queue.Empty:
            break
        if answer is CLOSED:
            raise PromptFailed("the Web Socket was closed before the prompt was answered")
        if answer.get("prompt_id") != prompt_id:
            continue  # an answer to an earlier prompt
        values = answer.get("values")
        if not isinstance(values, dict):
            raise PromptFailed("the answer carried no 'values' object")
        return values
    raise PromptFailed(f"the prompt was not answered within {timeout:g} s")
