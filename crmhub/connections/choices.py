"""The choice lists of each CRM: values staff choose from instead of typing them from memory.

A list fills one or more parameters of one operation (an AllClients action set by name or
id, a Collect! contact plan, a CRM.COM communication template). Its values come from the
CRM itself where its API lists them (``read``: a safe operation whose latest result holds
them), otherwise from a list an admin keeps per connection (``ConnectionChoice``), plus the
values that succeeded before on that connection. Plain data: no database here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: Turn a read's result data into ``(value, note)`` pairs.
ReadValues = Callable[[Any], Iterator[tuple[str, str]]]


def _plans(data: Any) -> Iterator[tuple[str, str]]:
    """Yield ``(code, description)`` of each plan a ``list_plans`` read returned."""
    plans = data.get("plans") if isinstance(data, Mapping) else None
    for plan in plans or ():
        if isinstance(plan, Mapping) and str(plan.get("code") or "").strip():
            yield str(plan["code"]).strip(), str(plan.get("description") or "")


def is_number(value: str) -> bool:
    """Return whether ``value`` is written in ASCII digits only (an id, not a name)."""
    return value.isascii() and value.isdigit()


@dataclass(frozen=True)
class ChoiceList:
    """One list of values: which operation's parameters it fills, where its values come from."""

    kind: str
    name: str
    label: str
    #: The operation whose parameters take the list's values.
    operation: str
    #: Parameter → which values fit it: ``"name"`` (not all digits), ``"id"`` (all digits)
    #: or ``"any"``.
    params: tuple[tuple[str, str], ...]
    #: A safe operation that lists the values in the CRM (empty: the CRM cannot list them).
    read: str = ""
    read_values: ReadValues | None = None
    #: Said beside the field about where the values come from.
    source: str = ""

    def fits(self, param: str, value: str) -> bool:
        """Return whether ``value`` is of the shape ``param`` takes (a name or an id)."""
        shape = dict(self.params).get(param, "any")
        if shape == "id":
            return is_number(value)
        if shape == "name":
            return not is_number(value)
        return True


CHOICE_LISTS: dict[str, tuple[ChoiceList, ...]] = {
    "allclients": (
        ChoiceList(
            "allclients",
            "action_set",
            "Action sets",
            "run_action_set",
            params=(("action_set_name", "name"), ("action_set_id", "id")),
            source="AllClients' API cannot list action sets: an admin keeps them in the admin.",
        ),
    ),
    "collect": (
        ChoiceList(
            "collect",
            "plan",
            "Contact plans",
            "run_plan",
            params=(("plan", "any"),),
            read="list_plans",
            read_values=_plans,
            source="Read from Collect!'s contact_plan table.",
        ),
    ),
    "crmcom": (
        ChoiceList(
            "crmcom",
            "template",
            "Communication templates",
            "communication_create",
            params=(("template", "any"),),
            source="CRM.COM's API cannot list templates: an admin keeps them in the admin.",
        ),
    ),
}


def choice_lists(kind: str, operation: str | None = None) -> tuple[ChoiceList, ...]:
    """Return the choice lists of ``kind`` (those of ``operation`` when given)."""
    lists = CHOICE_LISTS.get(kind, ())
    return tuple(c for c in lists if operation is None or c.operation == operation)


def choice_list(kind: str, name: str) -> ChoiceList | None:
    """Return the list ``name`` of ``kind``, or None."""
    return next((c for c in CHOICE_LISTS.get(kind, ()) if c.name == name), None)


def list_name_choices() -> list[tuple[str, str]]:
    """Return every list's ``(name, label)`` (for the admin's choice field)."""
    seen: dict[str, str] = {}
    for lists in CHOICE_LISTS.values():
        for item in lists:
            seen.setdefault(item.name, f"{item.label} ({item.kind})")
    return sorted(seen.items())
