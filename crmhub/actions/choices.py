"""The values of a connection's choice lists, and the check that an act uses a known one.

A list's values are the CRM's own (the latest succeeded read that lists them), those an
admin keeps for the connection, and those that succeeded before on it. When the CRM or an
admin gave any value, an act naming another one is refused before anything is queued;
with neither (nothing to compare with), the values that worked before are only offered.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crmhub.actions.errors import InvalidAct
from crmhub.actions.models import Action
from crmhub.connections.choices import ChoiceList, choice_lists
from crmhub.connections.models import Connection, ConnectionChoice

#: Succeeded acts read for the values that worked before (the newest first).
RECENT_SUCCESSES = 2000
#: Values offered at most per list.
MAX_OFFERED = 500


@dataclass(frozen=True)
class Choice:
    value: str
    note: str = ""
    #: Where it comes from: ``crm``, ``admin`` or ``used``.
    source: str = ""


@dataclass(frozen=True)
class KnownValues:
    """The values of one list for one connection."""

    item: ChoiceList
    choices: tuple[Choice, ...] = ()
    #: Whether the CRM or an admin gave values (then others are refused).
    strict: bool = False
    #: The read that lists them in the CRM (latest, and latest succeeded), when there is one.
    read: Action | None = None
    read_result: Action | None = None
    by_value: dict[str, Choice] = field(default_factory=dict)

    def values_for(self, param: str) -> list[Choice]:
        """Return the values that fit ``param`` (names for a name, ids for an id)."""
        return [c for c in self.choices if self.item.fits(param, c.value)]

    def knows(self, value: str) -> bool:
        return value in self.by_value


def _crm_values(item: ChoiceList, connection: Connection) -> tuple[list[Choice], Action | None]:
    if not item.read or item.read_values is None:
        return [], None
    found = (
        Action.objects.filter(
            connection=connection, operation=item.read, state=Action.State.SUCCEEDED
        )
        .order_by("-created_at", "-id")
        .only("pk", "result", "finished_at", "created_at")
        .first()
    )
    if found is None:
        return [], None
    data = (found.result or {}).get("data") if isinstance(found.result, dict) else None
    return [Choice(v, note, "crm") for v, note in item.read_values(data)], found


def _used_values(item: ChoiceList, connection: Connection) -> list[Choice]:
    names = [param for param, _ in item.params]
    rows = (
        Action.objects.filter(
            connection=connection, operation=item.operation, state=Action.State.SUCCEEDED
        )
        .order_by("-id")
        .values_list("params", flat=True)[:RECENT_SUCCESSES]
    )
    used: list[Choice] = []
    for params in rows:
        for name in names:
            value = params.get(name) if isinstance(params, Mapping) else None
            if value not in (None, ""):
                used.append(Choice(str(value), "worked before", "used"))
    return used


def choices_known(*, connection: Connection, item: ChoiceList) -> KnownValues:
    """Return the values of list ``item`` for ``connection`` (CRM, admin, used before)."""
    crm, read = _crm_values(item, connection)
    admin = [
        Choice(value, note, "admin")
        for value, note in ConnectionChoice.objects.filter(
            connection=connection, list_name=item.name
        ).values_list("value", "note")
    ]
    by_value: dict[str, Choice] = {}
    for choice in [*crm, *admin, *_used_values(item, connection)]:
        by_value.setdefault(choice.value, choice)
    ordered = sorted(by_value.values(), key=lambda c: c.value.casefold())[:MAX_OFFERED]
    return KnownValues(
        item=item,
        choices=tuple(ordered),
        strict=bool(crm or admin),
        read=read,
        read_result=read,
        by_value=by_value,
    )


def _problem(item: ChoiceList, known: KnownValues, value: str) -> str:
    """Return why ``value`` is refused ("" when it is known)."""
    if known.knows(value):
        return ""
    values = [c.value for c in known.choices]
    alike = [v for v in values if v.casefold() == value.casefold()]
    alike = alike or difflib.get_close_matches(value, values, n=1, cutoff=0.8)
    hint = f" Did you mean {alike[0]!r}?" if alike else " Choose one from the list."
    singular = item.label.lower().removesuffix("s")
    return f"{value!r} is not a known {singular} of this connection.{hint}"


def choices_check(*, connection: Connection, operation: str, params: Mapping[str, Any]) -> None:
    """Raise ``InvalidAct`` when ``params`` name a value a strict choice list does not know.

    Only the lists of ``operation`` are read, and only when one of their parameters is given.
    """
    errors: dict[str, list[str]] = {}
    for item in choice_lists(connection.kind, operation):
        given = {
            name: str(params[name]).strip()
            for name, _ in item.params
            if params.get(name) not in (None, "")
        }
        if not given:
            continue
        known = choices_known(connection=connection, item=item)
        if not known.strict:
            continue
        for name, value in given.items():
            problem = _problem(item, known, value)
            if problem:
                errors[name] = [problem]
    if errors:
        raise InvalidAct(errors)
