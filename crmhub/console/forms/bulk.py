"""What a bulk act runs on: rows picked in the search results, or the whole search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.http import QueryDict

from crmhub.actions.models import Action
from crmhub.console.forms import database_id
from crmhub.console.forms.search import ContactSearchForm

MAX_PICKED = 10_000


def _picks(values: list[str]) -> tuple[dict[int, tuple[int, ...]], list[int]]:
    """Return the picked person rows (person -> the records the row showed) and contacts.

    A person row's value names the records it showed: "p12.34.56" is person 12 shown with
    contacts 34 and 56 (a bulk act runs on those, never on records the person gained
    since); "c34" is a contact alone. At most ``MAX_PICKED`` records in all.
    """
    people: dict[int, tuple[int, ...]] = {}
    contacts: set[int] = set()
    total = 0
    for value in values:
        kind, parts = value[:1], value[1:].split(".")
        numbers = [database_id(part) for part in parts]
        if None in numbers or not numbers:
            continue
        ids = [n for n in numbers if n is not None]
        if kind == "p" and ids[0] not in people:
            shown = tuple(sorted(set(ids[1:])))
            if total + len(shown) > MAX_PICKED:
                break
            people[ids[0]] = shown
            total += len(shown)
        elif kind == "c" and len(ids) == 1 and ids[0] not in contacts:
            if total + 1 > MAX_PICKED:
                break
            contacts.add(ids[0])
            total += 1
    return dict(sorted(people.items())), sorted(contacts)


@dataclass(frozen=True)
class Selection:
    """People rows and lone contacts picked by hand, or a saved search (``everything``)."""

    #: Person id -> the ids of the records its row showed.
    people: dict[int, tuple[int, ...]]
    contact_ids: list[int]
    search: dict[str, Any] | None

    @property
    def person_ids(self) -> list[int]:
        return list(self.people)

    @property
    def shown_ids(self) -> list[int]:
        """Return every record the picked rows showed (the people's and the lone ones)."""
        found = {pk for shown in self.people.values() for pk in shown}
        return sorted(found.union(self.contact_ids))

    @property
    def everything(self) -> bool:
        return self.search is not None

    @property
    def picked(self) -> int:
        return len(self.person_ids) + len(self.contact_ids)

    @property
    def empty(self) -> bool:
        return not (self.person_ids or self.contact_ids or self.everything)

    def query(self) -> QueryDict:
        """Return the selection as query parameters (carried from step to step)."""
        data = QueryDict(mutable=True)
        if self.search is not None:
            data["all"] = "1"
            data["q"] = self.search["query"]
            filters = self.search["filters"]
            for key, name in (("kinds", "kind"), ("record_types", "record_type")):
                if filters.get(key):
                    data[name] = filters[key][0]
            if filters.get("connection_ids"):
                data["connection"] = str(filters["connection_ids"][0])
            if filters.get("include_deleted"):
                data["deleted"] = "on"
        people = [".".join(map(str, (pk, *shown))) for pk, shown in self.people.items()]
        lone = [f"c{pk}" for pk in self.contact_ids]
        data.setlist("pick", [f"p{value}" for value in people] + lone)
        return data


def selection_from(data: QueryDict) -> Selection:
    """Return the selection named by request parameters."""
    if data.get("all"):
        search_form = ContactSearchForm(data)
        return Selection({}, [], search_form.search())
    people, contacts = _picks(data.getlist("pick"))
    return Selection(people, contacts, None)


class ActChoiceForm(forms.Form):
    """The act of a bulk run: "<connection id>:<operation>"."""

    act = forms.RegexField(regex=r"^\d+:[a-z_]+$", widget=forms.HiddenInput)

    def parts(self) -> tuple[int, str]:
        connection_id, operation = self.cleaned_data["act"].split(":", 1)
        return int(connection_id), operation


class BatchResultsForm(forms.Form):
    """Which of a bulk run's results to list: a state, and the page after an action id."""

    state = forms.ChoiceField(required=False, choices=[("", "All"), *Action.State.choices])
    after = forms.CharField(required=False)

    def chosen(self) -> tuple[str | None, int | None]:
        """Return the state (None: every state) and the ``after`` id; unknown values are ignored."""
        if not self.is_bound:
            return None, None
        state = self.data.get("state", "")
        valid = {value for value, _ in Action.State.choices}
        return (state if state in valid else None), database_id(str(self.data.get("after", "")))
