"""One error family for every remote CRM.

Nothing raw (``requests``, lxml, json) ever leaves a connector: each transport maps its
failures to these classes in one function. ``retryable`` says whether trying again can
help at all; ``request_sent`` says whether the request may have reached the server, which
decides whether a call that changes remote state may be retried (never, if it may have).
``outcome_unknown`` says, once for every CRM, which failures leave a change's fate open.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


class ConnectorError(Exception):
    """A remote call failed. ``str()`` is safe to show staff: it carries no secret."""

    retryable: bool = False
    #: Whether the request may have reached the server (so its effect may have happened).
    request_sent: bool = True
    #: Whether the failed call could not change anything remote whatever became of it (a
    #: login, a configuration read or a socket opened before a change is sent); see
    #: ``changes_nothing``.
    changed_nothing: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        url: str | None = None,
        body: str | None = None,
        request_sent: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.url = url
        self.body = body[:2000] if body else body
        if request_sent is not None:
            self.request_sent = request_sent

    def __str__(self) -> str:
        return self.message


class AuthFailed(ConnectorError):
    """The credentials were refused. Staff must fix the connection; retrying cannot help."""


class RateLimited(ConnectorError):
    """The remote asked us to slow down; the request was not carried out."""

    retryable = True
    request_sent = False

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Unavailable(ConnectorError):
    """Network trouble, a timeout or a 5xx. ``request_sent`` tells whether it got there."""

    retryable = True


class Rejected(ConnectorError):
    """The remote refused the request as invalid (a 4xx or a vendor error in the body)."""


class NotFound(Rejected):
    """The remote record does not exist."""


class BadResponse(ConnectorError):
    """The answer could not be understood (not XML/JSON, wrong shape, unsafe XML, too big)."""


class UnsafeXML(BadResponse):
    """The answer was XML with a DOCTYPE or entities; refused without expanding anything."""


class UnknownOutcome(ConnectorError):
    """A state-changing request was sent but no definite answer came back."""


class BlockedAddress(ConnectorError):
    """The base URL points to an address this connection may not reach."""

    request_sent = False


class NeedsInput(ConnectorError):
    """A Collect! plan prompted and nobody answered in time; the plan was cancelled."""


class InvalidParams(ConnectorError):
    """Parameters failed validation before anything was sent. ``errors`` maps field → messages."""

    request_sent = False

    def __init__(self, errors: Mapping[str, list[str]] | str) -> None:
        self.errors = field_errors(errors)
        super().__init__(field_errors_text(self.errors))


def field_errors(errors: Mapping[str, list[str]] | str) -> dict[str, list[str]]:
    """Return ``errors`` as field → messages (a lone message belongs to ``__all__``)."""
    if isinstance(errors, str):
        errors = {"__all__": [errors]}
    return {field: list(messages) for field, messages in errors.items()}


def field_errors_text(errors: Mapping[str, list[str]]) -> str:
    """Return field → messages as one line ("field: message; ...")."""
    flat = "; ".join(
        f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
        for field, messages in errors.items()
    )
    return flat or "Invalid parameters."


@contextmanager
def changes_nothing() -> Iterator[None]:
    """Mark every connector error raised in the block as one that changed nothing remote.

    For the steps an operation takes before it sends its change (log in, read the
    configuration, open a socket): their failure is what it is, never an unknown outcome.
    """
    try:
        yield
    except ConnectorError as exc:
        exc.changed_nothing = True
        raise


def outcome_unknown(exc: ConnectorError) -> bool:
    """Return whether a change whose call failed with ``exc`` may have been made anyway.

    So it may when the request may have reached the server and no definite answer came
    back: the answer was lost (a timeout after sending, a broken connection, a 5xx) or it
    arrived but cannot be understood (not the expected format or shape, too large, a
    redirect). Not when the answer was definite (refused, not found, bad credentials,
    rate limited), when nothing was sent, or when the failed step changes nothing.
    """
    if isinstance(exc, UnknownOutcome):
        return True
    if exc.changed_nothing or not exc.request_sent:
        return False
    return isinstance(exc, BadResponse | Unavailable)
