"""Run a Collect! contact plan with a Web Socket open, relaying its prompts.

Protocol (crmhub's decision, the documents being silent; mirrored by the sandbox): the
client opens ``ws(s)://<host><websocket_path>``; the server's first message is
``{"websocket-id": id}``; the ``runplan`` POST names that id and blocks until the plan ends;
meanwhile a prompting plan sends ``{"type": "prompt", "prompt_id", "message", "fields"}``
and waits for ``{"type": "answer", "prompt_id", "values"}``; the end is ``{"type": "done",
"ok", "message"}``. Closing the socket cancels a waiting plan (the server rolls back).

The socket is opened on an address checked by the same outbound guard as every HTTP call.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import websocket

from crmhub.connectors.base import PromptHandler
from crmhub.connectors.collect import parsing
from crmhub.connectors.errors import (
    BadResponse,
    ConnectorError,
    NeedsInput,
    Rejected,
    Unavailable,
    UnknownOutcome,
)
from crmhub.connectors.http import HttpClient, Response
from crmhub.connectors.http.guard import resolve_checked

logger = logging.getLogger("crmhub.connectors.collect")

#: How often the socket is polled while the plan's POST is pending.
POLL_SECONDS = 0.25


@dataclass
class PlanConversation:
    """What was said over the socket while a plan ran (for the Action record)."""

    websocket_id: str = ""
    prompts: list[dict[str, Any]] = field(default_factory=list)
    done: parsing.SocketMessage | None = None

    def as_data(self) -> dict[str, Any]:
        done = {"ok": self.done.ok, "message": self.done.message} if self.done else None
        return {"websocket_id": self.websocket_id, "prompts": self.prompts, "done": done}


def _connected_socket(
    url: str, *, allow_private: bool, allow_link_local: bool, timeout: float
) -> socket.socket:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    infos = resolve_checked(
        host, port, allow_private=allow_private, allow_link_local=allow_link_local
    )
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
        if parts.scheme == "wss":
            return ssl.create_default_context().wrap_socket(sock, server_hostname=host)
    except OSError:
        sock.close()
        raise
    return sock


class SocketUnavailable(Unavailable):
    """The plan's Web Socket could not be opened (or gave no id); ``reason`` says why.

    Nothing was sent: the plan can still be sent without a socket (see the connector).
    """

    request_sent = False

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"The Collect! Web Socket at {url} could not be opened: {reason}.", url=url
        )
        self.reason = reason


def _handshake_failure(exc: Exception) -> tuple[int | None, str]:
    """Return the HTTP status and the reason of a failed handshake, as staff read them."""
    if isinstance(exc, websocket.WebSocketBadStatusException):
        return exc.status_code, f"HTTP {exc.status_code}"
    if isinstance(exc, socket.timeout | websocket.WebSocketTimeoutException):
        return None, "no answer in time"
    return None, type(exc).__name__


def open_socket(
    url: str,
    *,
    allow_private: bool,
    timeout: float,
    headers: Mapping[str, str],
    allow_link_local: bool = False,
    http: HttpClient | None = None,
) -> tuple[websocket.WebSocket, str]:
    """Open the plan's socket and return it with the id the server announced.

    Raise ``SocketUnavailable`` when it cannot be opened or names no id (``BlockedAddress``
    when the guard refuses its address). The handshake is kept in ``http``'s record of
    calls, with its status (101 when the server switched protocols).
    """
    started = time.monotonic()

    def record(status: int | None, error: str | None = None) -> None:
        if http is not None:
            request = {"headers": dict(headers)}
            http.record_call(
                "GET", url, request=request, status=status, started=started, error=error
            )

    try:
        sock = _connected_socket(
            url, allow_private=allow_private, allow_link_local=allow_link_local, timeout=timeout
        )
        ws = websocket.create_connection(
            url,
            timeout=timeout,
            socket=sock,
            redirect_limit=0,
            header=[f"{name}: {value}" for name, value in headers.items()],
        )
    except ConnectorError as exc:
        record(None, str(exc))
        raise
    except (OSError, websocket.WebSocketException) as exc:
        status, reason = _handshake_failure(exc)
        record(status, f"The Web Socket could not be opened: {reason}.")
        raise SocketUnavailable(url, reason) from None
    record(ws.getstatus())
    try:
        hello = parsing.parse_socket_message(ws.recv())
    except (OSError, websocket.WebSocketException, BadResponse):
        ws.close()
        raise SocketUnavailable(url, "it sent no websocket-id") from None
    if hello.type != "hello" or not hello.websocket_id:
        ws.close()
        raise SocketUnavailable(url, "its first message carried no websocket-id")
    return ws, hello.websocket_id


class _Post(threading.Thread):
    """The blocking ``runplan`` POST, on its own thread while the socket is served."""

    def __init__(self, send: Callable[[], Response]) -> None:
        super().__init__(name="collect-runplan", daemon=True)
        self.send = send
        self.response: Response | None = None
        self.error: ConnectorError | None = None

    def run(self) -> None:
        try:
            self.response = self.send()
        except ConnectorError as exc:
            self.error = exc
        except Exception:  # never let a raw error escape: the plan's fate is unknown
            logger.exception("collect runplan thread failed")
            self.error = UnknownOutcome("The contact plan call failed unexpectedly.")


def converse(
    ws: websocket.WebSocket,
    send: Callable[[], Response],
    *,
    on_prompt: PromptHandler | None,
    idle_timeout: float,
    conversation: PlanConversation,
) -> Response:
    """Send the plan (``send``) and serve its prompts until it ends; return its answer."""
    post = _Post(send)
    post.start()
    ws.settimeout(POLL_SECONDS)
    last_activity = time.monotonic()
    while post.is_alive():
        try:
            text = ws.recv()
            if not text:  # a close frame
                raise websocket.WebSocketConnectionClosedException("closed")
            message = parsing.parse_socket_message(text)
        except websocket.WebSocketTimeoutException:
            if time.monotonic() - last_activity > idle_timeout:
                ws.close()
                raise UnknownOutcome(
                    f"Collect! did not finish the contact plan within {idle_timeout:g} s; "
                    "it may or may not have run. Check the record and resend if needed."
                ) from None
            continue
        except BadResponse:
            logger.info("collect socket: ignored a message that is not JSON")
            continue
        except (OSError, websocket.WebSocketException):
            post.join(idle_timeout)  # the socket is gone; the POST says how the plan ended
            break
        if message.type == "prompt" and message.prompt is not None:
            _relay(ws, message, post, on_prompt, conversation, idle_timeout)
            last_activity = time.monotonic()
        elif message.type == "done":
            conversation.done = message
    return _outcome(ws, post, conversation, idle_timeout)


def _relay(
    ws: websocket.WebSocket,
    message: parsing.SocketMessage,
    post: _Post,
    on_prompt: PromptHandler | None,
    conversation: PlanConversation,
    idle_timeout: float,
) -> None:
    """Ask ``on_prompt`` and send its answer; cancel the plan when nobody answered."""
    prompt = message.prompt
    assert prompt is not None
    values = on_prompt(prompt) if on_prompt is not None else None
    asked = {"prompt_id": prompt.prompt_id, "message": prompt.message}
    conversation.prompts.append({**asked, "fields": [dict(f) for f in prompt.fields]})
    if values is not None and post.is_alive():
        conversation.prompts[-1]["values"] = dict(values)
        try:
            ws.send(parsing.answer_message(message.raw.get("prompt_id", prompt.prompt_id), values))
        except (OSError, websocket.WebSocketException):
            logger.info("collect socket: the answer could not be sent")
        return
    if values is None:
        ws.close()  # Collect! cancels a plan whose socket closes, and rolls it back
        post.join(idle_timeout)
    if post.is_alive():
        raise UnknownOutcome(
            "Nobody answered the contact plan's prompt and Collect! did not confirm that it "
            "cancelled the plan; check the record and resend if needed."
        )
    if isinstance(post.error, Rejected):
        raise NeedsInput(
            f"The contact plan asked {prompt.message!r} and nobody answered in time; "
            "the plan was cancelled and Collect! rolled its changes back."
        ) from post.error
    # Otherwise the POST's own answer (an error, or a plan that ended anyway) decides.


def _outcome(
    ws: websocket.WebSocket, post: _Post, conversation: PlanConversation, idle_timeout: float
) -> Response:
    if post.is_alive():
        ws.close()
        raise UnknownOutcome(
            "The Collect! Web Socket closed and the contact plan did not answer in time; "
            "it may or may not have run. Check the record and resend if needed."
        )
    if conversation.done is None:
        _read_done(ws, conversation)
    ws.close()
    if post.error is not None:
        raise post.error
    assert post.response is not None
    return post.response


def _read_done(ws: websocket.WebSocket, conversation: PlanConversation) -> None:
    """Read the plan's closing message if it is already there (it is informative only)."""
    try:
        ws.settimeout(POLL_SECONDS)
        message = parsing.parse_socket_message(ws.recv())
    except (OSError, websocket.WebSocketException, BadResponse):
        return
    if message.type == "done":
        conversation.done = message
