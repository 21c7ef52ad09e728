"""What a CRM tells the rest of crmhub about itself, declared once in its own package.

A ``Crm`` names its connection settings and secrets (the admin form is built from them),
its operations with their parameters and their one checker (the web request checks an
act's parameters with it, without building a connector; the connector checks with the
same one before it sends), and how the console offers each operation. Plain Python: no
Django here; the console form a declaration may name is given by its dotted path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib import import_module
from typing import TYPE_CHECKING, Any

from crmhub.connectors.errors import InvalidParams

if TYPE_CHECKING:
    from crmhub.connectors.base import Connector

#: Check one operation's parameters, given the connection's non-secret settings: return
#: them cleaned, or raise ``InvalidParams`` (field → messages).
Checker = Callable[[dict[str, Any], Mapping[str, Any]], dict[str, Any]]
#: Say, from an operation's parameters and the connection's non-secret settings, whether a
#: run may wait for a person: ``True``, ``False`` or ``None`` (not known).
PromptRule = Callable[[Mapping[str, Any], Mapping[str, Any]], bool | None]
#: Return every address a connection opens, given its base URL and non-secret settings.
Addresses = Callable[[str, Mapping[str, Any]], tuple[str, ...]]

#: Where the console offers an act: on a contact's record, or on a connection's page.
ON_CONTACT = "contact"
ON_CONNECTION = "connection"
REQUIRED = "This field is required."
#: The parameter naming the contact an operation acts on (added from the index).
CONTACT_PARAM = "contact_remote_id"


@dataclass(frozen=True)
class Field:
    """A setting (or, with ``secret``, a credential) a connection of this CRM asks for."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    default: str = ""
    help_text: str = ""
    max_length: int = 200
    #: Return the value cleaned, or raise ``ValueError`` with a message for staff.
    clean: Callable[[str], str] | None = None


@dataclass(frozen=True)
class Param:
    """One parameter of an operation (for the generic checker and the generic form)."""

    name: str
    label: str = ""
    required: bool = False
    #: ``text``, ``long_text``, ``integer`` or ``choice``.
    type: str = "text"
    max_length: int | None = None
    choices: tuple[tuple[str, str], ...] = ()
    help_text: str = ""
    #: Hidden in the form (an id the page fills in).
    hidden: bool = False

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class ConsoleAct:
    """How the console offers an operation (labels, where its button shows, its form)."""

    #: The button's label (the operation's label when empty).
    label: str = ""
    #: Where the act starts: ``ON_CONTACT`` or ``ON_CONNECTION``.
    on: str = ON_CONTACT
    #: A confirmation question asked before posting (dangerous acts).
    confirm: str = ""
    #: Shown among a record's act buttons (others are reached from their own list).
    button: bool = True
    #: A read whose latest result feeds a page region.
    read: bool = False
    #: The submit button's text (the label when empty).
    submit: str = ""
    #: Shown once it succeeded (what happens next).
    after: str = ""
    #: Fields left out of the bulk form (they differ per contact).
    not_in_bulk: tuple[str, ...] = ()
    #: The read whose latest result gives the form its choices (e.g. getConfigData).
    choices_from: str = ""
    #: Dotted path of the console form class; empty: a form built from the params.
    form: str = ""


@dataclass(frozen=True)
class Operation:
    """A remote call staff can ask for: its name, label, safety, parameters and checker."""

    name: str
    label: str
    #: Safe calls (reads) may be retried after any transient failure; unsafe ones only
    #: when the request provably never reached the server.
    safe: bool = False
    #: Whether the operation needs a contact of the index (``contact_remote_id`` param).
    needs_contact: bool = True
    #: The record types this operation applies to (empty: any).
    record_types: tuple[str, ...] = ()
    #: The parameters staff give (besides the contact).
    params: tuple[Param, ...] = ()
    #: The one checker of the parameters; none: ``params`` are checked generically.
    check: Checker | None = None
    #: Whether the console offers it for a selection of contacts.
    bulk: bool = False
    #: How the console offers it; none: it is not offered (run by code only).
    act: ConsoleAct | None = None
    #: Whether a run with given params may wait for a person's answer (see
    #: ``may_prompt``); none: it never does.
    prompts: PromptRule | None = None

    def clean(self, params: Mapping[str, Any], *, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Return ``params`` cleaned; raise ``InvalidParams`` naming each bad field."""
        given = dict(params)
        if self.check is not None:
            return self.check(given, settings)
        return _generic_clean(self, given)

    def may_prompt(self, params: Mapping[str, Any], *, settings: Mapping[str, Any]) -> bool | None:
        """Return whether a run with ``params`` may wait for a person's answer: ``True`` it
        does, ``False`` it never does, ``None`` not known (treat it as one that does)."""
        return self.prompts(params, settings) if self.prompts is not None else False


def _generic_clean(operation: Operation, params: dict[str, Any]) -> dict[str, Any]:
    """Check ``params`` against the declared ``Param``s: required, type, length, choices."""
    declared = {param.name: param for param in operation.params}
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name in sorted(set(params) - set(declared) - {CONTACT_PARAM}):
        errors[name] = ["Unknown parameter."]
    if operation.needs_contact:
        contact = params.get(CONTACT_PARAM)
        if _blank(contact):
            errors[CONTACT_PARAM] = [REQUIRED]
        else:
            cleaned[CONTACT_PARAM] = str(contact).strip()
    for param in operation.params:
        value = params.get(param.name)
        if _blank(value):
            if param.required:
                errors[param.name] = [REQUIRED]
            continue
        problem, value = _param_value(param, value)
        if problem:
            errors[param.name] = [problem]
        else:
            cleaned[param.name] = value
    if errors:
        raise InvalidParams(errors)
    return cleaned


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _param_value(param: Param, value: Any) -> tuple[str, Any]:
    """Return ``(problem, cleaned value)`` of one given parameter ("" when it is fine)."""
    if param.type == "integer":
        text = str(value).strip()
        if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
            return "Give a whole number.", value
        return "", int(text)
    if not isinstance(value, str):
        return "Give text.", value
    value = value.strip()
    if param.max_length is not None and len(value) > param.max_length:
        return f"At most {param.max_length} characters (this has {len(value)}).", value
    if param.type == "choice" and value not in {choice for choice, _ in param.choices}:
        return f"Choose one of {', '.join(c for c, _ in param.choices)}.", value
    return "", value


def check_params(
    operations: Mapping[str, Operation],
    operation: str,
    params: Mapping[str, Any],
    *,
    settings: Mapping[str, Any],
    kind: str,
) -> dict[str, Any]:
    """Return ``params`` of ``operation`` cleaned; raise ``InvalidParams`` if they are not.

    The one parameter check: the console's service calls it (through the declaration) before
    anything is queued, the connector (through ``Connector.validate``) before it sends.
    """
    declared = operations.get(operation)
    if declared is None:
        raise InvalidParams({"operation": [f"Unknown operation {operation!r} for {kind}."]})
    return declared.clean(params, settings=settings)


@dataclass(frozen=True)
class Crm:
    """One CRM: its connection settings and secrets, its operations, its connector."""

    kind: str
    label: str
    #: The connector class, or its dotted path (imported when first needed).
    connector: str | type[Connector]
    default_base_url: str = ""
    default_rate_limit: float = 5.0
    #: The record types its contacts have in the index.
    record_types: tuple[str, ...] = ()
    #: Settings and secrets of a connection, in the order the admin form shows them.
    fields: tuple[Field, ...] = ()
    operations: tuple[Operation, ...] = ()
    #: Whether a listing can ask for only what changed since a moment.
    supports_incremental: bool = False
    #: The addresses a connection opens besides its base URL (a Web Socket...), checked
    #: like it when the connection is saved; none: the base URL alone.
    addresses: Addresses | None = None

    @property
    def setting_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if not f.secret)

    @property
    def secret_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.secret)

    @cached_property
    def operations_by_name(self) -> Mapping[str, Operation]:
        return {operation.name: operation for operation in self.operations}

    def connection_addresses(self, base_url: str, settings: Mapping[str, Any]) -> tuple[str, ...]:
        """Return every address a connection of this CRM opens (its base URL first)."""
        if self.addresses is None:
            return (base_url,)
        return self.addresses(base_url, settings)

    def check_params(
        self, operation: str, params: Mapping[str, Any], *, settings: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Return ``params`` of ``operation`` cleaned (see ``check_params``)."""
        return check_params(
            self.operations_by_name, operation, params, settings=settings, kind=self.kind
        )

    def connector_class(self) -> type[Connector]:
        """Return the connector class (importing it when it is given by its path)."""
        if not isinstance(self.connector, str):
            return self.connector
        module_name, class_name = self.connector.rsplit(".", 1)
        cls: type[Connector] = getattr(import_module(module_name), class_name)
        return cls


def declared_for(kind: str, connector: type[Connector], *, like: Crm | None = None) -> Crm:
    """Return a declaration of ``kind`` served by ``connector``: its operations, ``like``'s
    settings and labels.

    Tests put an in-memory connector in a real kind's place this way: the settings and
    labels of the kind stay, the operations and the listing are the connector's.
    """
    base = like or Crm(kind=kind, label=kind, connector=connector)
    return Crm(
        kind=kind,
        label=base.label,
        connector=connector,
        default_base_url=base.default_base_url,
        default_rate_limit=base.default_rate_limit,
        record_types=base.record_types,
        fields=base.fields,
        operations=tuple(connector.operations.values()),
        supports_incremental=bool(connector.supports_incremental),
        addresses=base.addresses,
    )
