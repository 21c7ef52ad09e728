"""The base of every act form: fields named like the operation's params, errors mapped back.

A form only shapes input (types, choices, labels); the rules are the CRM's declared checker
(the one its connector applies too). Views
call ``action_enqueue`` with ``form.params()``; when it raises ``InvalidAct`` the
messages land on the fields of the same name (``apply_errors``), the rest on the form.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, cast

from django import forms

from crmhub.actions.errors import InvalidAct
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact


class ActForm(forms.Form):
    """Collect one operation's parameters; blank optional values are left out."""

    #: Params the form never sends even when a field exists for them.
    internal_fields: tuple[str, ...] = ()

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        connection: Connection,
        contact: Contact | None = None,
        extra: Mapping[str, Any] | None = None,
        initial: MutableMapping[str, Any] | None = None,
    ) -> None:
        # Ids unique per form: several act forms can be open on one page.
        owner = f"c{contact.pk}" if contact is not None else f"n{connection.pk}"
        name = type(self).__name__.lower().removesuffix("form")
        super().__init__(data, initial=initial, auto_id=f"id_{name}_{owner}_%s")
        self.connection = connection
        self.contact = contact
        self.extra = dict(extra or {})
        self.setup()

    def setup(self) -> None:
        """Adjust fields to the connection and contact (choices, initial values)."""

    def choice_field(self, name: str) -> forms.ChoiceField:
        """Return the field ``name``, declared as a choice field."""
        return cast("forms.ChoiceField", self.fields[name])

    def params(self) -> dict[str, Any]:
        """Return the operation's params from the cleaned data, blanks dropped."""
        values = {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in self.internal_fields and value not in (None, "", [], False)
        }
        return self.adjust(values)

    def adjust(self, values: dict[str, Any]) -> dict[str, Any]:
        """Return ``values`` turned into exactly what the connector expects."""
        return values

    def apply_errors(self, error: InvalidAct) -> None:
        """Show the checker's messages beside the fields they name."""
        for name, messages in error.errors.items():
            field = name if name in self.fields else None
            for message in messages:
                text = message if field or name == "__all__" else f"{name}: {message}"
                self.add_error(field, text)


class ReadForm(ActForm):
    """A read with no input from staff (lists, shows, config)."""


def choices_from(items: Any, *, id_keys: tuple[str, ...], name_keys: tuple[str, ...]) -> list:
    """Return ``(id, name)`` choices from a list of dicts or pairs (a read's result data)."""
    choices: list[tuple[str, str]] = [("", "—")]
    for item in items or ():
        if isinstance(item, Mapping):
            ident = next((item[k] for k in id_keys if item.get(k) not in (None, "")), None)
            name = next((item[k] for k in name_keys if item.get(k) not in (None, "")), ident)
        elif isinstance(item, list | tuple) and len(item) == 2:
            ident, name = item
        else:
            ident = name = item
        if ident not in (None, ""):
            choices.append((str(ident), str(name)))
    return choices
