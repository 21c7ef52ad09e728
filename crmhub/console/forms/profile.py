"""The signed-in user's own settings."""

from __future__ import annotations

from django import forms
from django.conf import settings

from crmhub.core.times import zone_names


def _zone_choices() -> list[tuple[str, str]]:
    return [
        ("", f"The site's zone ({settings.TIME_ZONE})"),
        *((name, name.replace("_", " ")) for name in sorted(zone_names())),
    ]


class ProfileForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone",
        required=False,
        choices=_zone_choices,
        help_text="Every time in the console is shown in this zone, with its name.",
    )
