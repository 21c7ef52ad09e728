"""Filter forms of the list pages (actions), with keyset pagination."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from crmhub.actions.models import Action
from crmhub.connections.kinds import KIND_CHOICES
from crmhub.connections.models import Connection
from crmhub.console.acts import ACTS
from crmhub.console.forms import database_id

PAGE_SIZE = 50


@dataclass(frozen=True)
class ActionPage:
    rows: list[Action]
    next_cursor: str


def _cursor(action: Action) -> str:
    return f"{action.created_at.isoformat()}_{action.pk}"


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
    kind = forms.ChoiceField(label="CRM", required=False, choices=[("", "Any CRM"), *KIND_CHOICES])
    operation = forms.ChoiceField(label="Act", required=False)
    connection = forms.ModelChoiceField(
        label="Connection",
        required=False,
        queryset=Connection.objects.order_by("name"),
        empty_label="Any connection",
    )
    user = forms.ModelChoiceField(
        label="Asked by",
        required=False,
        queryset=get_user_model().objects.order_by("username"),
        empty_label="Anyone",
        to_field_name="username",
    )
    since = forms.DateField(label="From", required=False, widget=forms.DateInput({"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput({"type": "date"}))
    after = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = sorted({op for _, op in ACTS})
        cast("forms.ChoiceField", self.fields["operation"]).choices = [("", "Any act")] + [
            (name, name.replace("_", " ")) for name in names
        ]

    def filtered(self) -> QuerySet[Action]:
        """Return the actions the valid filters select (all of them when none is set)."""
        actions = Action.objects.select_related("connection", "contact", "requested_by")
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        zone = timezone.get_current_timezone()
        for name, lookup in (
            ("state", "state"),
            ("kind", "connection__kind"),
            ("operation", "operation"),
            ("connection", "connection"),
            ("user", "requested_by"),
        ):
            if data.get(name):
                actions = actions.filter(**{lookup: data[name]})
        if data.get("since"):
            actions = actions.filter(
                created_at__gte=datetime.combine(data["since"], time.min, tzinfo=zone)
            )
        if data.get("until"):
            actions = actions.filter(
                created_at__lte=datetime.combine(data["until"], time.max, tzinfo=zone)
            )
        return actions.order_by("-created_at", "-id")

    def page(self) -> ActionPage:
        """Return one page of the filtered actions, after the cursor if one was given."""
        actions = self.filtered()
        cursor = (
            _parse_cursor(self.cleaned_data.get("after", ""))
            if self.is_bound and (self.is_valid())
            else None
        )
        if cursor is not None:
            moment, pk = cursor
            actions = actions.filter(Q(created_at__lt=moment) | Q(created_at=moment, id__lt=pk))
        rows = list(actions[: PAGE_SIZE + 1])
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        return ActionPage(rows, _cursor(rows[-1]) if more and rows else "")

    def query_without_cursor(self) -> str:
        """Return the filters as a query string (for the "more" link)."""
        if not (self.is_bound and isinstance(self.data, QueryDict)):
            return ""
        data = self.data.copy()
        data.pop("after", None)
        return data.urlencode()
