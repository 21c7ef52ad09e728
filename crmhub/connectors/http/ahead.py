"""A request sent from a thread of its own, so that its caller works while the answer comes.

A listing read page by page waits for the remote to render each page, then parses it: with
the next page asked for before the current one is parsed (``HttpClient.request_ahead``),
the remote renders one while the caller parses the other. One request at a time: what
waits in memory is the answer of that one request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from crmhub.connectors.errors import RateLimited

if TYPE_CHECKING:
    from crmhub.connectors.http.transport import Pacer, Response


class PendingResponse:
    """One request on its way, sent by a thread that does nothing else.

    The pacer is asked in the caller's thread only (a rate-limit slot is taken when the
    request is made, as ``HttpClient.request`` takes it, and the pacer may write to the
    caller's database): the sending thread only sends and records the call.
    """

    def __init__(self, send: Callable[[], Response], pacer: Pacer | None) -> None:
        self._send = send
        self._pacer = pacer
        self._outcome: tuple[Response | None, BaseException | None] = (None, None)
        self._thread = self._start()

    def _start(self) -> threading.Thread:
        if self._pacer is not None:
            self._pacer.before_request()
        thread = threading.Thread(target=self._run, name="http-read-ahead", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        try:
            self._outcome = (self._send(), None)
        except BaseException as exc:  # handed to the caller, which re-raises it
            self._outcome = (None, exc)

    def result(self) -> Response:
        """Wait for the response and return it, or raise the request's error; a
        rate-limited request is sent again when the pacer says so (as ``request`` does)."""
        while True:
            self._thread.join()
            response, error = self._outcome
            if error is None:
                assert response is not None
                return response
            pacer = self._pacer
            if not isinstance(error, RateLimited) or pacer is None or not pacer.rate_limited(error):
                raise error
            self._outcome = (None, None)
            self._thread = self._start()

    def wait(self) -> None:
        """Wait for the request to end, its answer or error dropped (the caller leaves)."""
        self._thread.join()
