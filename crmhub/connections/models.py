from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from django.conf import settings as django_settings
from django.db import models

from crmhub.connections.kinds import KINDS, Kind, kind_label
from crmhub.connectors.base import ConnectionSpec
from crmhub.core import crypto, redaction


class Health(models.TextChoices):
    UNKNOWN = "unknown", "Not checked"
    OK = "ok", "OK"
    AUTH_FAILED = "auth_failed", "Authentication failed"
    UNREACHABLE = "unreachable", "Unreachable"
    ERROR = "error", "Error"


@lru_cache(maxsize=64)
def _unsealed(keys: tuple[str, ...], token: str, context: str) -> tuple[tuple[str, str], ...]:
    """Return the credentials sealed in ``token``, decrypted once per process.

    A worker decrypts its connection's credentials for every action it carries out (a
    fifth of a millisecond each); the same ciphertext under the same keys (``keys`` is the
    configured ``CRMHUB_FIELD_KEYS``, part of the cache's key only) always gives the same
    values. A wrong key raises, and nothing is kept.
    """
    return tuple(crypto.unseal(token, context=context).items())


class Connection(models.Model):
    """One account on a remote CRM, with its credentials encrypted at rest."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True)
    #: A registered CRM (``connections.kinds``); no ``choices`` here, so a new CRM needs no
    #: migration: the admin form offers the kinds registered when it is shown.
    kind = models.CharField(max_length=20)
    base_url = models.CharField(max_length=500)
    settings = models.JSONField(default=dict, blank=True)
    secrets_ciphertext = models.TextField(blank=True, default="", editable=False)
    country = models.CharField(
        max_length=2,
        default="US",
        help_text="Default region for phone numbers without a country code (ISO code).",
    )
    rate_limit = models.FloatField(
        default=5.0, help_text="Requests per second, all workers together."
    )
    daily_quota = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Requests per day; when used up, work pauses until midnight UTC.",
    )
    sync_interval_minutes = models.PositiveIntegerField(default=15)
    full_sync_interval_hours = models.PositiveIntegerField(default=24)
    allow_private_network = models.BooleanField(
        default=False,
        help_text="Allow private and loopback addresses (a self-hosted server, the sandbox). "
        "Only a superuser may change this.",
    )
    allow_link_local = models.BooleanField(
        default=False,
        help_text="Allow link-local and cloud metadata addresses (169.254.0.0/16, "
        "fd00:ec2::254…), which private networks alone never include. Only a superuser may "
        "change this.",
    )
    is_active = models.BooleanField(default=True)
    health = models.CharField(max_length=20, choices=Health.choices, default=Health.UNKNOWN)
    health_error = models.TextField(blank=True, default="")
    health_checked_at = models.DateTimeField(null=True, blank=True)
    #: A check asked for and not run yet (the sweeper publishes it again if the broker was
    #: down); cleared by the worker that runs it.
    check_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    throttled_until = models.DateTimeField(null=True, blank=True)
    #: Contacts in the index not marked deleted, counted by the worker when a sync ends
    #: (pages show it without counting a million rows on each view).
    contacts_live = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("manage_connection", "Can manage connections and their credentials")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind_label})"

    # -- credentials -----------------------------------------------------------------------
    @property
    def _secret_context(self) -> str:
        return f"connections.connection.secrets:{self.uid}"

    def get_secrets(self) -> dict[str, str]:
        """Return the decrypted credentials (raises ``DecryptionError`` on a wrong key)."""
        if not self.secrets_ciphertext:
            return {}
        values = dict(
            _unsealed(
                tuple(django_settings.CRMHUB_FIELD_KEYS),
                self.secrets_ciphertext,
                self._secret_context,
            )
        )
        redaction.register_secrets(values.values())
        return values

    def set_secrets(self, values: dict[str, str]) -> None:
        """Encrypt ``values`` into this row (saved with the row)."""
        clean = {key: value for key, value in values.items() if value}
        redaction.register_secrets(clean.values())
        self.secrets_ciphertext = crypto.seal(clean, context=self._secret_context) if clean else ""

    def secret_names_set(self) -> list[str]:
        """Return the names of the credentials that are set (never their values)."""
        return sorted(self.get_secrets()) if self.secrets_ciphertext else []

    def secrets_keyed(self) -> bool:
        """Return whether a current field key sealed the stored credentials.

        Checked by the keys' signature alone: nothing is decrypted (a web request asks this
        before queueing an act; only the worker decrypts).
        """
        return not self.secrets_ciphertext or crypto.signed(self.secrets_ciphertext)

    def secrets_readable(self) -> bool:
        """Return whether the stored credentials decrypt with the current field keys."""
        try:
            self.get_secrets()
        except crypto.DecryptionError:
            return False
        return True

    # -- connector ---------------------------------------------------------------------------
    @property
    def kind_info(self) -> Kind:
        return KINDS[self.kind]

    @property
    def kind_label(self) -> str:
        return kind_label(self.kind)

    def connector_settings(self) -> dict[str, Any]:
        """Return the non-secret settings a connector (and a parameter check) is given."""
        settings: dict[str, Any] = dict(self.settings or {})
        settings.setdefault("country", self.country)
        return settings

    def spec(self) -> ConnectionSpec:
        """Return what a connector needs to reach this account (secrets decrypted)."""
        settings = self.connector_settings()
        # How long a Collect! plan may run without a word from the server (a setting of
        # the deployment, not of the connection: it must fit the task's time limit).
        settings.setdefault("plan_idle_seconds", django_settings.CRMHUB_PLAN_IDLE_SECONDS)
        return ConnectionSpec(
            kind=self.kind,
            base_url=self.base_url,
            settings=settings,
            secrets=self.get_secrets(),
            allow_private_network=self.allow_private_network,
            allow_link_local=self.allow_link_local,
            connection_id=self.pk,
        )


class ConnectionChoice(models.Model):
    """One value an admin keeps in a connection's choice list (an action set, a template...).

    Where the CRM's API cannot list them, these lists (with the values that succeeded
    before) are what the console offers, and what an act is checked against.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="choices")
    #: Which list: a name of ``connections.choices.CHOICE_LISTS`` for the connection's kind.
    list_name = models.CharField("list", max_length=40)
    value = models.CharField(max_length=200, help_text="Exactly as the CRM knows it.")
    note = models.CharField(
        max_length=200, blank=True, default="", help_text="Shown beside the value."
    )

    class Meta:
        ordering = ["connection", "list_name", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "list_name", "value"], name="connection_choice_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.list_name}: {self.value}"
