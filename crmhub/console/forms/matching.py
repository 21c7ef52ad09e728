"""Staff corrections of person matching: split a record out, join two people, find whom."""

from __future__ import annotations

from typing import Any

from django import forms

from crmhub.console.forms import database_id
from crmhub.contacts.models import Contact


class CorrectionForm(forms.Form):
    """Split a record out of its person ("not the same person"), with an optional reason."""

    reason = forms.CharField(
        label="Reason (optional)",
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "Why, for whoever looks later"}),
    )


class JoinForm(CorrectionForm):
    """Join this person with another person or record ("same person")."""

    other = forms.CharField(
        label="Same person as",
        max_length=40,
        error_messages={"required": "Choose the person these records belong with."},
    )

    def clean_other(self) -> Contact:
        """Return a record of the chosen row: "p<person id>" or "c<contact id>"."""
        value: str = self.cleaned_data["other"]
        number = database_id(value[1:])
        found = None
        if number is not None and value[:1] == "p":
            found = Contact.objects.filter(person_id=number).order_by("pk").first()
        elif number is not None and value[:1] == "c":
            found = Contact.objects.filter(pk=number).first()
        if found is None:
            raise forms.ValidationError("That person is not in the index (any more).")
        return found


class JoinSearchForm(forms.Form):
    """Find the person to join with (the person page's search box)."""

    join_q = forms.CharField(
        label="Find the other person",
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, email or phone", "autocomplete": "off"}
        ),
    )

    def query(self) -> str:
        data: dict[str, Any] = self.cleaned_data if self.is_valid() else {}
        return str(data.get("join_q") or "").strip()
