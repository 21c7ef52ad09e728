"""What a bulk act runs on: rows picked in the search results, or the whole search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.http import QueryDict

from crmhub.console.forms import database_id
from crmhub.console.forms.search import ContactSearchForm

MAX_PICKED = 10_000


def _ids(values: list[str], prefix: str) -> list[int]:
    """Return the ids of the picked rows of one kind ("p12": person 12, "c34": contact 34)."""
    found = {database_id(v[1:]) for v in values if v[:1] == prefix}
    return sorted(n for n in found if n is not None)[:MAX_PICKED]


@dataclass(frozen=True)
class Selection:
    """People and lone contacts picked by hand, or a saved search (``everything``)."""

    person_ids: list[int]
    contact_ids: list[int]
    search: dict[str, Any] | None

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
        data.setlist(
            "pick", [f"p{pk}" for pk in self.person_ids] + [f"c{pk}" for pk in self.contact_ids]
        )
        return data


def selection_from(data: QueryDict) -> Selection:
    """Return the selection named by request parameters."""
    if data.get("all"):
        search_form = ContactSearchForm(data)
        return Selection([], [], search_form.search())
    picks = data.getlist("pick")
    return Selection(_ids(picks, "p"), _ids(picks, "c"), None)


class ActChoiceForm(forms.Form):
    """The act of a bulk run: "<connection id>:<operation>"."""

    act = forms.RegexField(regex=r"^\d+:[a-z_]+$", widget=forms.HiddenInput)

    def parts(self) -> tuple[int, str]:
        connection_id, operation = self.cleaned_data["act"].split(":", 1)
        return int(connection_id), operation
