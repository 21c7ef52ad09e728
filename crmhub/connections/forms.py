"""The admin form of a connection: common fields plus the fields of its kind."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from crmhub.connections.kinds import KINDS, Kind
from crmhub.connections.models import Connection
from crmhub.connectors import errors
from crmhub.connectors.http import check_base_url

COMMON_FIELDS = [
    "name",
    "kind",
    "base_url",
    "country",
    "rate_limit",
    "daily_quota",
    "sync_interval_minutes",
    "full_sync_interval_hours",
    "allow_private_network",
    "is_active",
]
SETTING_PREFIX = "setting_"
SECRET_PREFIX = "secret_"  # noqa: S105 - a form field prefix, not a password


class ConnectionForm(forms.ModelForm):
    """Validate every field of a connection; secrets are write-only (never rendered back)."""

    class Meta:
        model = Connection
        fields = COMMON_FIELDS

    def __init__(
        self, *args: Any, kind: str | None = None, may_allow_private: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        instance: Connection = self.instance
        chosen = instance.kind if instance.pk else (self.data.get("kind") or kind or "allclients")
        self.kind_info: Kind = KINDS.get(chosen, KINDS["allclients"])
        self.fields["kind"].initial = self.kind_info.value
        if instance.pk:
            self.fields["kind"].disabled = True
        else:
            self.fields["base_url"].initial = self.kind_info.default_base_url
            self.fields["rate_limit"].initial = self.kind_info.default_rate_limit
        if not may_allow_private:
            self.fields["allow_private_network"].disabled = True
            self.fields["allow_private_network"].help_text += " (superusers only)"
        self._add_kind_fields(instance)

    def _add_kind_fields(self, instance: Connection) -> None:
        current = dict(instance.settings or {})
        already_set = set(instance.secret_names_set()) if instance.pk else set()
        for spec in self.kind_info.fields:
            if spec.secret:
                is_set = spec.name in already_set
                self.fields[SECRET_PREFIX + spec.name] = forms.CharField(
                    label=spec.label,
                    required=spec.required and not is_set,
                    max_length=spec.max_length,
                    strip=True,
                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                    help_text=(
                        "Set. Leave blank to keep it; type a new value to replace it."
                        if is_set
                        else "Write-only: it is never shown again."
                    ),
                )
            else:
                self.fields[SETTING_PREFIX + spec.name] = forms.CharField(
                    label=spec.label,
                    required=spec.required,
                    max_length=spec.max_length,
                    initial=current.get(spec.name, spec.default),
                    help_text=spec.help_text,
                )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for spec in self.kind_info.fields:
            name = (SECRET_PREFIX if spec.secret else SETTING_PREFIX) + spec.name
            value = cleaned.get(name)
            if value and spec.clean is not None:
                try:
                    cleaned[name] = spec.clean(value)
                except ValidationError as exc:
                    self.add_error(name, exc)
        base_url = cleaned.get("base_url")
        if base_url:
            self._check_base_url(base_url, bool(cleaned.get("allow_private_network")))
        return cleaned

    def _check_base_url(self, url: str, allow_private: bool) -> None:
        try:
            check_base_url(url, allow_private=allow_private)
        except errors.BlockedAddress as exc:
            self.add_error("base_url", str(exc))
        except errors.Unavailable:
            pass  # not resolvable right now: the connect-time check still applies

    def clean_rate_limit(self) -> float:
        value = self.cleaned_data["rate_limit"]
        if not 0 < value <= 1000:
            raise ValidationError("Give a rate between 0.01 and 1000 requests per second.")
        return value

    def clean_country(self) -> str:
        value = self.cleaned_data["country"].upper()
        if len(value) != 2 or not value.isalpha():
            raise ValidationError("Use a two-letter country code, e.g. US or GB.")
        return value

    def kind_settings(self) -> dict[str, str]:
        """Return the kind's non-secret settings as entered."""
        return {
            spec.name: self.cleaned_data.get(SETTING_PREFIX + spec.name) or ""
            for spec in self.kind_info.setting_fields
        }

    def new_secrets(self) -> dict[str, str]:
        """Return only the secrets typed in this time (blank means keep the stored one)."""
        return {
            spec.name: value
            for spec in self.kind_info.secret_fields
            if (value := self.cleaned_data.get(SECRET_PREFIX + spec.name))
        }
