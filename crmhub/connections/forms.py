"""The admin form of a connection: common fields plus the fields its CRM declares."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from crmhub.connections import addresses
from crmhub.connections.kinds import KINDS, Kind, kind_choices
from crmhub.connections.models import Connection

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
    "allow_link_local",
    "is_active",
]
SETTING_PREFIX = "setting_"
SECRET_PREFIX = "secret_"  # noqa: S105 - a form field prefix, not a password
SUPERUSER_ONLY = ("allow_private_network", "allow_link_local")
MOVED_HELP = (
    " Changing its scheme, host or port drops every stored credential (they are never sent "
    "to another host): type them all again below."
)
TYPE_AGAIN = "The address changed: type this credential again (the stored one is dropped)."
UNREADABLE = (
    "The stored value cannot be decrypted with the current CRMHUB_FIELD_KEYS: type it again."
)


class ConnectionForm(forms.ModelForm):
    """Validate every field of a connection; secrets are write-only (never rendered back)."""

    #: The registered CRMs when the form is shown (the model field has no frozen choices).
    kind = forms.ChoiceField(label="Kind", choices=kind_choices)

    class Meta:
        model = Connection
        fields = COMMON_FIELDS

    def __init__(
        self, *args: Any, kind: str | None = None, may_allow_private: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        instance: Connection = self.instance
        self.may_allow_private = may_allow_private
        self.stored_base_url = instance.base_url if instance.pk else ""
        self.stored_settings = dict(instance.settings or {}) if instance.pk else {}
        self.stored_flags = (instance.allow_private_network, instance.allow_link_local)
        #: The stored credentials cannot be decrypted (CRMHUB_FIELD_KEYS changed): every
        #: credential must be typed again.
        self.secrets_unreadable = bool(instance.pk) and not instance.secrets_readable()
        chosen = instance.kind if instance.pk else (self.data.get("kind") or kind or "allclients")
        self.kind_info: Kind = KINDS.get(chosen) or next(iter(KINDS.values()))
        self.fields["kind"].initial = self.kind_info.kind
        if instance.pk:
            self.fields["kind"].disabled = True
        else:
            self.fields["base_url"].initial = self.kind_info.default_base_url
            self.fields["rate_limit"].initial = self.kind_info.default_rate_limit
        if not may_allow_private:
            for name in SUPERUSER_ONLY:
                self.fields[name].disabled = True
                self.fields[name].help_text += " (superusers only)"
        if instance.pk and instance.secrets_ciphertext:
            field = self.fields["base_url"]
            field.help_text = (field.help_text + MOVED_HELP).strip()
        self._add_kind_fields(instance)

    def _add_kind_fields(self, instance: Connection) -> None:
        current = dict(instance.settings or {})
        readable = instance.pk and not self.secrets_unreadable
        already_set = set(instance.secret_names_set()) if readable else set()
        self.secrets_set = already_set
        for spec in self.kind_info.fields:
            if spec.secret:
                is_set = spec.name in already_set
                self.fields[SECRET_PREFIX + spec.name] = forms.CharField(
                    label=spec.label,
                    required=(spec.required and not is_set) or self.secrets_unreadable,
                    max_length=spec.max_length,
                    strip=True,
                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                    help_text=(
                        UNREADABLE
                        if self.secrets_unreadable
                        else "Set. Leave blank to keep it; type a new value to replace it."
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
                except ValueError as exc:
                    self.add_error(name, str(exc))
        base_url = cleaned.get("base_url")
        if base_url:
            self._check_addresses(base_url, cleaned)
            self._require_secrets_if_moved(base_url, cleaned)
        return cleaned

    def _check_addresses(self, base_url: str, cleaned: dict[str, Any]) -> None:
        """Refuse an address the connection may not reach, under the rules of who changes it.

        See ``addresses``: a change by someone who may not allow private networks is checked
        with private networks and link-local addresses refused, whatever is stored. An
        address saved before, under the same switches, is not looked up again (the outbound
        guard checks it at every connection).
        """
        flags = (bool(cleaned.get("allow_private_network")), bool(cleaned.get("allow_link_local")))
        kind = self.kind_info.kind
        settings = {**self.stored_settings, **self._typed_settings(cleaned)}
        new = addresses.connection_addresses(kind=kind, base_url=base_url, settings=settings)
        old = (
            addresses.connection_addresses(
                kind=kind, base_url=self.stored_base_url, settings=self.stored_settings
            )
            if self.instance.pk
            else [""] * len(new)
        )
        for position, (url, before) in enumerate(zip(new, old, strict=True)):
            changed = url != before if position == 0 else addresses.address_changed(before, url)
            if self.instance.pk and not changed and flags == self.stored_flags:
                continue
            policy = addresses.address_policy(
                may_allow=self.may_allow_private,
                changed=changed,
                allow_private=flags[0],
                allow_link_local=flags[1],
            )
            refusal = addresses.address_refusal(url, policy=policy)
            if refusal:
                self.add_error("base_url", refusal)
                return

    def _typed_settings(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        return {
            spec.name: cleaned[SETTING_PREFIX + spec.name]
            for spec in self.kind_info.setting_fields
            if cleaned.get(SETTING_PREFIX + spec.name)
        }

    def _require_secrets_if_moved(self, base_url: str, cleaned: dict[str, Any]) -> None:
        """Ask for every credential again when the address moves to another host."""
        if not self.instance.pk or not addresses.address_changed(self.stored_base_url, base_url):
            return
        for spec in self.kind_info.secret_fields:
            name = SECRET_PREFIX + spec.name
            wanted = spec.required or spec.name in self.secrets_set
            if wanted and not cleaned.get(name) and name not in self.errors:
                self.add_error(name, TYPE_AGAIN)

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
