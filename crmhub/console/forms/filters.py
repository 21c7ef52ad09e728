"""Filter forms of the list pages (actions): what to list, and the keyset cursor."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, cast

from django import forms
from django.http import QueryDict
from django.utils import timezone

from crmhub.actions.models import Action
from crmhub.connections.kinds import kind_choices
from crmhub.connections.selectors import connection_list
from crmhub.console.acts import all_acts
from crmhub.console.forms import database_id
from crmhub.core.selectors import user_list


def cursor_text(position: tuple[datetime, int] | None) -> str:
    """Return the ``after`` parameter for a keyset position (``ActionPage.next_after``)."""
    if position is None:
        return ""
    moment, pk = position
    return f"{moment.isoformat()}_{pk}"


def _parse_cursor(value: str) -> tuple[datetime, int] | None:
    try:
        stamp, pk = value.rsplit("_", 1)
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    number = database_id(pk)
    if moment.tzinfo is None or number is None:
        return None
    return moment, number


class ActionFilterForm(forms.Form):
    state = forms.ChoiceField(
        label="State", required=False, choices=[("", "Any state"), *Action.State.choices]
    )
    kind = forms.ChoiceField(
        label="CRM", required=False, choices=lambda: [("", "Any CRM"), *kind_choices()]
    )
    operation = forms.ChoiceField(label="Act", required=False)
    connection = forms.ModelChoiceField(
        label="Connection",
        required=False,
        queryset=connection_list(),
        empty_label="Any connection",
    )
    user = forms.ModelChoiceField(
        label="Asked by",
        required=False,
        queryset=user_list(),
        empty_label="Anyone",
        to_field_name="username",
    )
    open = forms.BooleanField(
        label="Still needs someone",
        required=False,
        help_text="The latest of each act (not resent), not checked by anyone yet.",
    )
    since = forms.DateField(label="From", required=False, widget=forms.DateInput({"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput({"type": "date"}))
    after = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = sorted({act.operation for act in all_acts()})
        cast("forms.ChoiceField", self.fields["operation"]).choices = [("", "Any act")] + [
            (name, name.replace("_", " ")) for name in names
        ]

    def filters(self) -> dict[str, Any]:
        """Return the valid filters and cursor as ``action_page`` takes them (none at all
        when any input is invalid)."""
        if not (self.is_bound and self.is_valid()):
            return {}
        data = self.cleaned_data
        zone = timezone.get_current_timezone()
        since, until = data.get("since"), data.get("until")
        return {
            "state": data.get("state") or None,
            "kind": data.get("kind") or None,
            "operation": data.get("operation") or None,
            "connection": data.get("connection"),
            "requested_by": data.get("user"),
            "created_from": since and datetime.combine(since, time.min, tzinfo=zone),
            "created_to": until and datetime.combine(until, time.max, tzinfo=zone),
            "open_only": bool(data.get("open")),
            "after": _parse_cursor(data.get("after", "")),
        }

    def query_without_cursor(self) -> str:
        """Return the filters as a query string (for the "more" link)."""
        if not (self.is_bound and isinstance(self.data, QueryDict)):
            return ""
        data = self.data.copy()
        data.pop("after", None)
        return data.urlencode()
