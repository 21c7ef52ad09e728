"""AllClients acts: run an action set, add a contact link."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.utils import timezone

from crmhub.console.forms.base import ActForm

DEFAULT_TIME_ZONE = "America/Chicago"
IDENTIFY_METHODS = [
    ("1", "By AllClients contact id (recommended)"),
    ("2", "By primary email on file"),
    ("3", "By email or other email on file"),
]


def connection_time_zone(connection: Any) -> zoneinfo.ZoneInfo:
    """Return the AllClients account's time zone (a connection setting)."""
    name = (connection.settings or {}).get("time_zone") or DEFAULT_TIME_ZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(DEFAULT_TIME_ZONE)


class RunActionSetForm(ActForm):
    action_set_id = forms.IntegerField(
        label="Action set id",
        required=False,
        min_value=1,
        help_text="Give the id or the name of the action set, not both.",
    )
    action_set_name = forms.CharField(label="Action set name", required=False, max_length=200)
    identify_method = forms.ChoiceField(label="Find the contact", choices=IDENTIFY_METHODS)
    identify_value = forms.CharField(
        label="Email to find the contact by",
        required=False,
        max_length=200,
        help_text="Only for the email methods; the contact id is used otherwise.",
    )
    team_member_id = forms.IntegerField(
        label="Run as team member id",
        required=False,
        min_value=0,
        help_text="Leave empty for the account owner.",
    )
    start_at = forms.DateTimeField(
        label="Start at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )

    def setup(self) -> None:
        zone = connection_time_zone(self.connection)
        self.fields[
            "start_at"
        ].help_text = f"In the account's time zone, {zone.key}. Leave empty to start now."
        emails = list(self.contact.emails) if self.contact else []
        # What the index knows decides the default: the contact id first, an email if not.
        has_id = bool(self.contact and self.contact.remote_id)
        self.fields["identify_method"].initial = "1" if has_id or not emails else "2"
        if emails:
            self.fields["identify_value"].initial = emails[0]
            self.fields["identify_value"].widget.attrs["list"] = "known-emails"
        self.known_emails = emails

    def clean_start_at(self) -> Any:
        value = self.cleaned_data.get("start_at")
        if value is None:
            return None
        # The browser sends the wall-clock time the user means, in the account's zone.
        naive = timezone.make_naive(value) if timezone.is_aware(value) else value
        return naive.replace(tzinfo=connection_time_zone(self.connection))

    def adjust(self, values: dict[str, Any]) -> dict[str, Any]:
        values["identify_method"] = int(values.get("identify_method") or 1)
        if values["identify_method"] == 1:
            values.pop("identify_value", None)
        if values.get("start_at") is not None:
            values["start_at"] = values["start_at"].isoformat()
        if "team_member_id" not in values and self.cleaned_data.get("team_member_id") == 0:
            values["team_member_id"] = 0
        return values


class AddContactLinkForm(ActForm):
    url = forms.CharField(
        label="Link URL",
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
        help_text="http or https, at most 255 characters.",
    )
    label = forms.CharField(label="Label", help_text="At most 50 characters.")
