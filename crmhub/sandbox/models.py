"""Storage of the simulated CRMs (in the ``sandbox`` database).

* ``Account``: the credentials each simulated CRM accepts (checked like real ones).
* ``Record``: any stored object of a simulated CRM as JSON (contacts, customers, debtors,
  communications, queue entries, links...), keyed by kind, collection and numeric id.
* ``Call``: the ledger of every request received, so tests can assert what was sent and
  that no side effect was applied twice. Credentials are never written to it.
* ``Fault``: what to inject per kind (latency, errors, rate limits, timeouts, bad bodies).
* ``RecordsVersion``: one row that changes with every change to which records exist (on
  SQLite, by triggers), so a server can trust what it learnt of them until it changes.
"""

from __future__ import annotations

from django.db import models

from crmhub.sandbox.registry import SANDBOXES

#: The simulated CRMs (``registry.SANDBOXES``), offered where a form asks for a kind. The
#: ``kind`` columns themselves have no frozen choices: a new simulated CRM needs no migration.
KIND_CHOICES = list(SANDBOXES)


class Account(models.Model):
    kind = models.CharField(max_length=20, unique=True)
    credentials = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"sandbox {self.kind} account"


class Record(models.Model):
    kind = models.CharField(max_length=20)
    collection = models.CharField(max_length=40)
    remote_id = models.BigIntegerField()
    data = models.JSONField(default=dict)
    updated_at = models.DateTimeField()
    deleted = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "collection", "remote_id"], name="sandbox_record_unique"
            )
        ]
        indexes = [models.Index(fields=["kind", "collection", "deleted", "remote_id"])]

    def __str__(self) -> str:
        return f"{self.kind}/{self.collection}/{self.remote_id}"


class Call(models.Model):
    kind = models.CharField(max_length=20)
    operation = models.CharField(max_length=60)
    params = models.JSONField(default=dict)
    #: What the call would change, to find repeats (e.g. "actionset:<contact>:<set>").
    effect = models.CharField(max_length=300, blank=True, default="")
    applied = models.BooleanField(default=False)
    status = models.PositiveSmallIntegerField(default=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "operation", "applied"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.operation} {self.status}"


class Fault(models.Model):
    """Faults to inject into one simulated CRM; all zero means a healthy server."""

    kind = models.CharField(max_length=20, unique=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error_rate = models.FloatField(default=0.0, help_text="Share of calls answered with 5xx.")
    error_status = models.PositiveSmallIntegerField(default=503)
    rate_limit_rate = models.FloatField(default=0.0, help_text="Share of calls answered 429.")
    retry_after = models.PositiveIntegerField(default=1, help_text="Retry-After of a 429, seconds.")
    timeout_rate = models.FloatField(default=0.0, help_text="Share of calls that hang.")
    timeout_after_apply = models.BooleanField(
        default=False, help_text="Hang after applying the change (the client cannot know)."
    )
    hang_seconds = models.FloatField(default=40.0)
    malformed_rate = models.FloatField(default=0.0, help_text="Share of calls with a broken body.")
    xml_attack = models.CharField(
        max_length=20,
        blank=True,
        default="",
        choices=[("", "none"), ("entity", "external entity"), ("billion_laughs", "billion laughs")],
    )
    fail_next = models.PositiveIntegerField(
        default=0, help_text="Answer the next N calls with error_status, then recover."
    )
    xml_indent = models.BooleanField(
        default=False,
        help_text="AllClients: answer indented XML (the default is compact, like the vendor).",
    )
    hide_undocumented = models.BooleanField(
        default=False,
        help_text=(
            "Answer the operations no vendor document describes (AllClients GetContactLinks, "
            "Collect! contact_plan listing, CRM.COM contact_information/list) as a server "
            "without them would: they do not exist."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"faults for {self.kind}"


class RecordsVersion(models.Model):
    """One row whose ``value`` SQLite triggers (migration 0002) set to a new random number
    on every insert or delete of a record, or update of its ``kind``, ``collection``,
    ``remote_id`` or ``deleted``, whoever writes. Not kept on PostgreSQL."""

    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"records version {self.value}"
