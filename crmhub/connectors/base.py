"""The one interface every CRM connector implements, and the values it returns.

A connector is built from a ``ConnectionSpec`` (base URL, settings, secrets) and never
touches Django. Reads return frozen dataclasses; every operation that changes remote state
is described by an ``Operation`` (its parameters, whether it is safe to repeat) and run
through ``Connector.run(operation, params)``, which holds the rules every CRM shares: the
parameters are checked before anything is sent, the operation is carried out by the
connector's method ``perform_<operation>``, and a change whose answer was lost or cannot
be read is an ``UnknownOutcome``.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from crmhub.connectors.declarations import Operation, check_params
from crmhub.connectors.errors import ConnectorError, UnknownOutcome, outcome_unknown
from crmhub.connectors.http import CallRecord, HttpClient


@dataclass(frozen=True)
class ConnectionSpec:
    """Everything a connector needs to reach one remote account."""

    kind: str
    base_url: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    allow_private_network: bool = False
    #: Link-local and cloud metadata addresses (a superuser's separate switch).
    allow_link_local: bool = False
    connection_id: int | None = None
    timeout: tuple[float, float] = (5.0, 30.0)
    #: Reuse the thread's open connections to the CRM between connectors (a worker running
    #: one action after another; see ``HttpClient``'s ``keep_alive``).
    keep_alive: bool = False

    def __repr__(self) -> str:  # secrets never appear in a repr
        return f"ConnectionSpec(kind={self.kind!r}, base_url={self.base_url!r})"


@dataclass(frozen=True)
class RemoteContact:
    """One person or company as the remote CRM has it, normalised for the index."""

    remote_id: str
    record_type: str  # customer | debtor | client | cosigner | associate | person | company
    first_name: str = ""
    last_name: str = ""
    full_name: str = ""
    company: str = ""
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    updated_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    def as_data(self) -> dict[str, Any]:
        """Return this contact as JSON-safe data (for an operation result)."""
        return {
            "remote_id": self.remote_id,
            "record_type": self.record_type,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "full_name": self.full_name,
            "company": self.company,
            "emails": list(self.emails),
            "phones": list(self.phones),
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "raw": json.loads(json.dumps(dict(self.raw), default=str)),
        }


@dataclass(frozen=True)
class ContactPage:
    """One page of a remote listing. ``total`` is the remote's own count, when it says."""

    contacts: tuple[RemoteContact, ...]
    total: int | None = None
    number: int = 0


@dataclass(frozen=True)
class Prompt:
    """A question a running Collect! plan asks (over its Web Socket)."""

    prompt_id: str
    message: str
    fields: tuple[Mapping[str, Any], ...] = ()


#: Called with a prompt; returns the answer values, or ``None`` when nobody answered in time.
PromptHandler = Callable[[Prompt], Mapping[str, Any] | None]


@dataclass(frozen=True)
class OperationResult:
    """What a state-changing call returned, for the Action record."""

    message: str
    data: Mapping[str, Any] = field(default_factory=dict)
    remote_id: str | None = None
    #: After a change: the record as the CRM now has it (written through to the index).
    contact: RemoteContact | None = None
    #: After a deletion: the remote id of the record the CRM no longer has.
    deleted_remote_id: str | None = None


#: The HTTP status of a call to an operation the server does not have.
HTTP_NOT_FOUND = 404
NOT_AVAILABLE = "not available from this CRM"


def not_available(what: str) -> OperationResult:
    """Return the result of an undocumented read that the server answered does not exist.

    Such a read (each connector names its own in ``UNDOCUMENTED``) is our assumption, not
    the vendor's promise: its absence is an answer to show (``data["available"]`` is
    False), not a failure.
    """
    return OperationResult(message=f"{what}: {NOT_AVAILABLE}.", data={"available": False})


class Connector(abc.ABC):
    """Base class of the four CRM connectors.

    Subclasses set ``kind`` and ``operations``, implement the abstract methods, and carry
    out each operation ``name`` in a method ``perform_<name>(params)``; every HTTP call
    goes through ``self.http`` so it is guarded, timed, redacted and recorded.
    """

    kind: ClassVar[str]
    operations: ClassVar[Mapping[str, Operation]] = {}
    #: Whether ``iter_contact_pages(since=...)`` returns only what changed since then.
    supports_incremental: ClassVar[bool] = False
    #: Field names whose values are secrets (masked in every recorded call).
    secret_fields: ClassVar[tuple[str, ...]] = ()
    #: Who answers the prompts of the operation being performed (see ``run``), if anyone.
    on_prompt: PromptHandler | None = None

    def __init__(self, spec: ConnectionSpec, *, http: HttpClient | None = None) -> None:
        self.spec = spec
        self.http = http or HttpClient(
            base_url=spec.base_url,
            allow_private_network=spec.allow_private_network,
            allow_link_local=spec.allow_link_local,
            timeout=spec.timeout,
            secret_values=tuple(v for v in spec.secrets.values() if v),
            secret_fields=self.secret_fields,
            keep_alive=spec.keep_alive,
        )

    # -- reads -------------------------------------------------------------------------------
    @abc.abstractmethod
    def check_credentials(self) -> None:
        """Make one cheap authenticated call; raise ``AuthFailed`` or another error."""

    @abc.abstractmethod
    def iter_contact_pages(
        self, *, since: datetime | None = None, page_size: int = 100
    ) -> Iterator[ContactPage]:
        """Yield the remote contact list page by page, to the end.

        Stops on a short or empty page and raises ``BadResponse`` on a page repeated
        verbatim (a pagination loop). With ``since`` and ``supports_incremental``, yield
        only records changed since then.
        """

    # -- acts --------------------------------------------------------------------------------
    def validate(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Return ``params`` cleaned for ``operation``; raise ``InvalidParams`` if they are not.

        The declared checker of the operation: the same one ``action_enqueue`` applies (from
        the declaration, without a connector) before anything is queued.
        """
        return check_params(
            self.operations, operation, params, settings=self.spec.settings, kind=self.kind
        )

    def run(
        self,
        operation: str,
        params: Mapping[str, Any],
        *,
        on_prompt: PromptHandler | None = None,
    ) -> OperationResult:
        """Validate ``params`` and carry out ``operation``; raise ``ConnectorError`` on failure.

        For every CRM alike: when ``operation`` changes remote state (it is not ``safe``)
        and its request may have reached the server without a definite answer coming back
        (lost, or unreadable: see ``errors.outcome_unknown``), raise ``UnknownOutcome``, so
        that it is never sent again blindly. A safe operation's failure is what it is.
        """
        cleaned = self.validate(operation, params)
        try:
            return self.perform(operation, cleaned, on_prompt=on_prompt)
        except ConnectorError as exc:
            if (
                self.operations[operation].safe
                or isinstance(exc, UnknownOutcome)
                or not outcome_unknown(exc)
            ):
                raise
            raise UnknownOutcome(
                f"{exc} The change may or may not have been made.",
                status=exc.status,
                url=exc.url,
                body=exc.body,
            ) from exc

    def perform(
        self,
        operation: str,
        params: dict[str, Any],
        *,
        on_prompt: PromptHandler | None = None,
    ) -> OperationResult:
        """Carry out an already validated ``operation`` with its ``perform_<operation>``."""
        handler: Callable[[dict[str, Any]], OperationResult] = getattr(self, f"perform_{operation}")
        self.on_prompt = on_prompt
        try:
            return handler(params)
        finally:
            self.on_prompt = None

    # -- audit -------------------------------------------------------------------------------
    def drain_calls(self) -> list[CallRecord]:
        """Return (and forget) the redacted record of every HTTP call made so far."""
        return self.http.drain_calls()

    def close(self) -> None:
        self.http.close()
