"""Searchable choice lists on act forms: a datalist per field, fed by the connection's lists.

The field stays a text input (the browser filters the list as staff type, no script), and
``action_enqueue`` refuses a value the list does not know (see ``actions.choices``). A list
the CRM can give (Collect!'s plans) is a read region: it loads itself when stale and
updates the datalist in place when the read ends, so nothing typed is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django import forms

from crmhub.actions.choices import Choice, KnownValues, choices_known
from crmhub.connections.choices import choice_list, choice_lists
from crmhub.connections.models import Connection
from crmhub.console import regions

OWNER = re.compile(r"^[bcn][0-9]{1,12}$")


@dataclass(frozen=True)
class PickerField:
    """One form field's part of a list: its datalist id and the values that fit it."""

    name: str
    datalist: str
    choices: list[Choice]


@dataclass(frozen=True)
class Picker:
    """A choice list as one form shows it (``owner`` keeps ids unique on a page)."""

    known: KnownValues
    owner: str
    fields: list[PickerField]
    read: dict[str, Any]

    @property
    def region_id(self) -> str:
        return f"choice-list-{self.known.item.name}-{self.owner}"


def owner_of(value: str, default: str) -> str:
    """Return ``value`` if it is an owner token (``c12``, ``n3``, ``b3``), else ``default``."""
    return value if OWNER.match(value or "") else default


def picker_build(*, connection: Connection, name: str, owner: str) -> Picker | None:
    """Return the picker of list ``name`` for a form of ``owner`` on ``connection``."""
    item = choice_list(connection.kind, name)
    if item is None:
        return None
    known = choices_known(connection=connection, item=item)
    read: dict[str, Any] = {}
    if item.read:
        read = regions.read_state(operation=item.read, connection=connection)
    fields = [
        PickerField(param, f"choices-{param}-{owner}", known.values_for(param))
        for param, _ in item.params
    ]
    return Picker(known=known, owner=owner, fields=fields, read=read)


def pickers_for(*, connection: Connection, operation: str, owner: str) -> list[Picker]:
    """Return the pickers of every list that fills a parameter of ``operation``."""
    found = [
        picker_build(connection=connection, name=item.name, owner=owner)
        for item in choice_lists(connection.kind, operation)
    ]
    return [picker for picker in found if picker is not None]


def pickers_apply(form: forms.Form, pickers: list[Picker]) -> None:
    """Point each field a picker fills at its datalist (and off the browser's own memory)."""
    for picker in pickers:
        for field in picker.fields:
            if field.name in form.fields:
                attrs = form.fields[field.name].widget.attrs
                attrs.update({"list": field.datalist, "autocomplete": "off"})
