"""The local contact index: one row per remote record, people linked across CRMs."""

from __future__ import annotations

from django.db import models

from crmhub.connections.models import Connection


class RecordType(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    DEBTOR = "debtor", "Debtor"
    CLIENT = "client", "Client"
    COSIGNER = "cosigner", "Cosigner"
    ASSOCIATE = "associate", "Associate"
    PERSON = "person", "Person"
    COMPANY = "company", "Company"


class Person(models.Model):
    """One human (or company) across CRMs: contacts sharing an email or a phone."""

    display_name = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.display_name or f"Person {self.pk}"


class Contact(models.Model):
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="contacts")
    remote_id = models.CharField(max_length=64)
    record_type = models.CharField(max_length=20, choices=RecordType.choices)
    first_name = models.CharField(max_length=200, blank=True, default="")
    last_name = models.CharField(max_length=200, blank=True, default="")
    full_name = models.CharField(max_length=300, blank=True, default="")
    company = models.CharField(max_length=300, blank=True, default="")
    emails = models.JSONField(default=list, blank=True)
    phones = models.JSONField(default=list, blank=True)
    #: Normalised keys: lower-cased trimmed emails, E.164 phones ("+13125550100").
    email_keys = models.JSONField(default=list, blank=True)
    phone_keys = models.JSONField(default=list, blank=True)
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, blank=True, default="")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    #: How the contact was linked to its person: "email:<key>", "phone:<key>" or "".
    matched_by = models.CharField(max_length=320, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "remote_id"], name="contact_remote_unique"
            )
        ]
        indexes = [
            models.Index(fields=["person"]),
            models.Index(fields=["connection", "deleted_at"]),
        ]

    def __str__(self) -> str:
        return self.full_name or f"{self.first_name} {self.last_name}".strip() or self.remote_id


class ContactKey(models.Model):
    """One normalised email or phone of a contact: exact lookups and person matching."""

    class Type(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="keys")
    type = models.CharField(max_length=5, choices=Type.choices)
    value = models.CharField(max_length=320)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "type", "value"], name="contact_key_unique")
        ]
        indexes = [models.Index(fields=["type", "value"])]

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


class SyncRun(models.Model):
    class Mode(models.TextChoices):
        FULL = "full", "Full"
        INCREMENTAL = "incremental", "Incremental"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        FLAGGED = "flagged", "Flagged (not applied)"
        SKIPPED = "skipped", "Skipped (another sync was running)"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="sync_runs")
    mode = models.CharField(max_length=12, choices=Mode.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    requested_by = models.CharField(max_length=150, blank=True, default="schedule")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    expected_total = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["connection", "state"])]

    def __str__(self) -> str:
        return f"{self.get_mode_display()} sync of {self.connection_id} ({self.state})"

    @property
    def progress(self) -> int | None:
        """Return the percentage done when the remote said how many there are."""
        if not self.expected_total:
            return None
        return min(100, int(self.fetched * 100 / self.expected_total))
