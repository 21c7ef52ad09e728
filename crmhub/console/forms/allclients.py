"""AllClients acts: run an action set, add a contact link.

An action set's start time is given in the staff member's own time zone; the form shows it
beside the US Central Time that AllClients is sent (its ``startdatetime`` is "server time").
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from crmhub.connections.kinds import ALLCLIENTS_SERVER_TIME_ZONE, allclients_start_text
from crmhub.console.forms.base import ActForm

IDENTIFY_METHODS = [
    ("1", "By AllClients contact id (recommended)"),
    ("2", "By primary email on file"),
    ("3", "By email or other email on file"),
]
#: The wall-clock format of the form's times (the one AllClients' ``startdatetime`` uses).
CENTRAL_LABEL = "US Central Time"


def _zone(name: str | None) -> zoneinfo.ZoneInfo:
    """Return the time zone ``name`` (an IANA name), or the console's when it is not one."""
    try:
        return zoneinfo.ZoneInfo(name or "")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(timezone.get_current_timezone_name())


def _wall(moment: datetime) -> str:
    """Return ``moment`` as ``M/D/YYYY h:mm AM/PM`` in its own zone."""
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02d} {half}"


def central_preview(value: Any, zone: zoneinfo.ZoneInfo) -> str:
    """Return the staff member's time ``value`` (in ``zone``) and the Central time sent."""
    moment = value if isinstance(value, datetime) else None
    if isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    if moment is None:
        return f"Give it in your time zone ({zone.key}); AllClients is sent {CENTRAL_LABEL}."
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return (
        f"Your time ({zone.key}): {_wall(moment.astimezone(zone))} → sent to AllClients "
        f"as {allclients_start_text(moment)} {CENTRAL_LABEL}."
    )


class CentralTimeInput(forms.DateTimeInput):
    """A ``datetime-local`` input of the staff member's time, followed by an ``<output>``
    saying the US Central Time that AllClients will be sent (kept current by app.js)."""

    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(attrs={"data-central-time": ""}, format="%Y-%m-%dT%H:%M")
        self.zone = zoneinfo.ZoneInfo("UTC")

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        html = super().render(name, value, attrs, renderer)
        element_id = (attrs or {}).get("id") or f"id_{name}"
        note = format_html(
            '<output id="{}_central" for="{}" class="small central-time" aria-live="polite" '
            'data-server-zone="{}">{}</output>',
            element_id,
            element_id,
            ALLCLIENTS_SERVER_TIME_ZONE.key,
            central_preview(value, self.zone),
        )
        return html + note


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
        widget=CentralTimeInput(),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        help_text="In your own time; leave empty to start now.",
    )
    #: The staff member's time zone (the browser's, set by app.js; the console's otherwise).
    time_zone = forms.CharField(
        required=False,
        max_length=64,
        widget=forms.HiddenInput(attrs={"data-browser-zone": ""}),
    )
    internal_fields = ("time_zone",)

    def setup(self) -> None:
        self.fields["time_zone"].initial = timezone.get_current_timezone_name()
        widget = self.fields["start_at"].widget
        assert isinstance(widget, CentralTimeInput)
        widget.zone = self.staff_zone()
        emails = list(self.contact.emails) if self.contact else []
        # What the index knows decides the default: the contact id first, an email if not.
        has_id = bool(self.contact and self.contact.remote_id)
        self.fields["identify_method"].initial = "1" if has_id or not emails else "2"
        if emails:
            self.fields["identify_value"].initial = emails[0]
            self.fields["identify_value"].widget.attrs["list"] = "known-emails"
        self.known_emails = emails

    def staff_zone(self) -> zoneinfo.ZoneInfo:
        """Return the time zone the staff member gives times in."""
        given = self.data.get(self.add_prefix("time_zone")) if self.is_bound else None
        return _zone(given or timezone.get_current_timezone_name())

    def clean_start_at(self) -> Any:
        value = self.cleaned_data.get("start_at")
        if value is None:
            return None
        # The browser sends the wall-clock time the staff member means, in their own zone.
        naive = timezone.make_naive(value) if timezone.is_aware(value) else value
        return naive.replace(tzinfo=self.staff_zone())

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
