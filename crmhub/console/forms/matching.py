"""Staff corrections of person matching: split a record out, join two people, find whom."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from crmhub.console.forms import database_id
from crmhub.contacts.models import Contact

#: The ids of a blank reason field, written once: the person page asks for one a record.
_MARK = "crmhub-blank-"
_blank_reason: str | None = None


def blank_reason(*, id_prefix: str) -> SafeString:
    """Return the label and input of an unbound ``CorrectionForm``'s reason, as
    ``{{ form.reason.label_tag }}{{ form.reason }}`` writes them with the ``auto_id``
    ``f"{id_prefix}%s"``.

    An unbound form writes the same thing every time but its ids: rendered once per
    process (each is two templates rendered by the form renderer), the ids put in.
    """
    global _blank_reason
    if _blank_reason is None:
        field = CorrectionForm(auto_id=f"{_MARK}%s")["reason"]
        _blank_reason = f"{field.label_tag()}{field}"
    return mark_safe(_blank_reason.replace(_MARK, escape(id_prefix)))  # noqa: S308


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
