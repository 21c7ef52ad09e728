"""The contact search box and its filters (also the saved search of a bulk act)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict

from crmhub.connections.kinds import kind_choices
from crmhub.connections.selectors import connection_list
from crmhub.contacts.models import RecordType


class ContactSearchForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Name, company, email or phone",
                "autocomplete": "off",
                "autofocus": True,
            }
        ),
    )
    kind = forms.ChoiceField(
        label="CRM", required=False, choices=lambda: [("", "Every CRM"), *kind_choices()]
    )
    connection = forms.ModelChoiceField(
        label="Connection",
        required=False,
        queryset=connection_list(),
        empty_label="Every connection",
    )
    record_type = forms.ChoiceField(
        label="Record type", required=False, choices=[("", "Every type"), *RecordType.choices]
    )
    deleted = forms.BooleanField(label="Include deleted", required=False)
    after = forms.CharField(required=False, widget=forms.HiddenInput, max_length=40)

    def search(self) -> dict[str, Any]:
        """Return the saved-search form of the valid input: ``{"query", "filters"}``."""
        data = self.cleaned_data if self.is_valid() else {}
        filters: dict[str, Any] = {"include_deleted": bool(data.get("deleted"))}
        if data.get("kind"):
            filters["kinds"] = [data["kind"]]
        if data.get("connection"):
            filters["connection_ids"] = [data["connection"].pk]
        if data.get("record_type"):
            filters["record_types"] = [data["record_type"]]
        return {"query": (data.get("q") or "").strip(), "filters": filters}

    @property
    def base_query(self) -> str:
        """Return the search as a query string without the page cursor (for "more" links)."""
        if not (self.is_bound and isinstance(self.data, QueryDict)):
            return ""
        data = self.data.copy()
        data.pop("after", None)
        return data.urlencode()
