"""Every remote side effect as a row: the outbox, the audit log and the retry state.

An ``Action`` moves ``queued → sending → succeeded | failed | unknown`` (plus
``needs_input`` while a Collect! plan waits for a person, and ``cancelled``). The row is
committed before any task is published; a worker claims it with a conditional update, so
two deliveries of one message can never both send it. ``Attempt`` keeps each try with the
redacted calls the connector made. ``Batch`` groups the actions of a bulk run.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact
from crmhub.core import publishing, queues


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


class Batch(models.Model):
    """One bulk run: one operation with the same parameters over a selection of contacts."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"

    operation = models.CharField(max_length=60)
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="batches")
    params = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    #: The targets, resolved once when the batch was confirmed (contact ids); and the saved
    #: search (query + filters) they came from, if any: it is never run again.
    contact_ids = models.JSONField(default=list, blank=True)
    search_query = models.CharField(max_length=300, blank=True, default="")
    search_filters = models.JSONField(default=dict, blank=True)
    size = models.PositiveIntegerField(default=0)
    #: Contacts left out because the connector refused their parameters: {remote_id: error}.
    skipped = models.JSONField(default=dict, blank=True)
    #: Actions of the batch by state, e.g. {"queued": 10, "succeeded": 2}.
    totals = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: Who stopped it, and when (its queued actions were cancelled then); and why, when it
    #: was stopped for a reason of its own (its connection switched off).
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancel_reason = models.TextField(blank=True, default="", db_default="")
    #: The batch whose failures (and unknowns checked as not done) this one sends again.
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="retries"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "batches"
        indexes = [models.Index(fields=["state"], name="batch_state")]

    def __str__(self) -> str:
        return f"Batch {self.pk}: {self.operation} x {self.size}"


class Action(models.Model):
    """One remote side effect asked for by a person (or a batch), and what became of it."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        NEEDS_INPUT = "needs_input", "Needs input"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown: check and resend"
        CANCELLED = "cancelled", "Cancelled"

    class Verdict(models.TextChoices):
        """What a person found when they checked an action in the CRM."""

        HAPPENED = "happened", "It happened"
        NOT_HAPPENED = "not_happened", "It did not happen"
        DISMISSED = "dismissed", "Left as it is"

    operation = models.CharField(max_length=60)
    #: Snapshot of ``Operation.safe`` at enqueue time: may it be repeated after any failure?
    safe = models.BooleanField(default=False)
    #: The Celery queue its messages go to (``crmhub.core.queues``): ``prompts`` for a
    #: plan that may wait for a person, so that it never holds a slot other acts need.
    queue = models.CharField(
        max_length=20, default=queues.ACTIONS, db_default=queues.ACTIONS, editable=False
    )
    #: ``connection``, ``contact`` and ``batch`` have no index of their own: each leads
    #: a composite one (``action_dispatch``, ``action_contact``, ``action_batch_state``).
    connection = models.ForeignKey(
        Connection, on_delete=models.PROTECT, related_name="actions", db_index=False
    )
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="actions",
        db_index=False,
    )
    #: What the connector is given (never a secret); ``contact_remote_id`` when there is one.
    params = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    idempotency_key = models.CharField(max_length=64, unique=True, default=new_idempotency_key)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    #: Not to be started before this time (scheduled start, backoff, rate limit, quota).
    not_before = models.DateTimeField(default=timezone.now)
    #: When a task message was last published for it; null: waiting for the dispatcher.
    published_at = models.DateTimeField(null=True, blank=True)
    #: Times a worker claimed it (one ``Attempt`` each).
    attempts = models.PositiveIntegerField(default=0)
    #: Of those, the attempts the CRM answered "too many requests": they do not count
    #: towards ``CRMHUB_MAX_ATTEMPTS`` (throttling has its own time cap, from
    #: ``throttled_since``, its first such answer).
    throttles = models.PositiveIntegerField(default=0)
    throttled_since = models.DateTimeField(null=True, blank=True)
    #: Since it was last rescheduled: the messages received that went on to handle it, one
    #: at a time — the first, and one after each lost worker (the poison cap). A copy that
    #: arrives while another message is being handled is dropped, uncounted.
    deliveries = models.PositiveIntegerField(default=0)
    #: The message being handled (its task id) and since when; cleared when it is done with
    #: (claimed, put back), or when the sweeper finds its worker lost.
    received_task_id = models.CharField(max_length=64, blank=True, default="")
    received_at = models.DateTimeField(null=True, blank=True)
    #: When staff resent it (an unknown outcome): a late answer no longer overwrites it.
    resent_at = models.DateTimeField(null=True, blank=True)
    #: While sending: past this time the worker is presumed lost (see the sweeper).
    lease_until = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="actions",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True, default="")
    #: A Collect! plan's question ({"prompt_id", "message", "fields"}) and its answer values.
    prompt = models.JSONField(null=True, blank=True)
    answer = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    resend_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="resends"
    )
    batch = models.ForeignKey(
        Batch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="actions",
        db_index=False,
    )
    task_id = models.CharField(max_length=64, blank=True, default="")
    #: A person checked in the CRM whether an unknown (or failed) action happened: who,
    #: when, what they found (``Verdict``) and a note. Nothing is resent by this.
    checked_at = models.DateTimeField(null=True, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    check_verdict = models.CharField(
        max_length=12, blank=True, default="", db_default="", choices=Verdict.choices
    )
    check_note = models.TextField(blank=True, default="", db_default="")
    #: For a safe read run to check another action in the CRM: that action.
    check_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="checks"
    )

    TERMINAL = frozenset({State.SUCCEEDED, State.FAILED, State.UNKNOWN, State.CANCELLED})

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("run_action", "Can run remote actions")]
        indexes = [
            models.Index(fields=["state", "not_before"], name="action_state_due"),
            models.Index(fields=["state", "lease_until"], name="action_state_lease"),
            models.Index(fields=["state", "published_at"], name="action_state_published"),
            models.Index(
                fields=["connection", "state", "published_at", "not_before"],
                name="action_dispatch",
            ),
            models.Index(fields=["contact", "created_at"], name="action_contact"),
            models.Index(fields=["batch", "state"], name="action_batch_state"),
            # The lists' order (``ordering``) whole: a bulk act's actions share one
            # ``created_at``, which an index of it alone leaves to be read and sorted.
            models.Index(fields=["created_at", "id"], name="action_created_id"),
            # (SQLite also has ``action_single_recent``, made by migration 0006: the latest
            # acts asked one at a time, which its newest-first walk of ``action_created_id``
            # finds only by stepping over every bulk action. PostgreSQL has no need of it,
            # and its planner took it for the attention queries, to their cost.)
            # (PostgreSQL has ``action_open``, made by migration 0007: the acts that need
            # someone, whose counts and lists the dashboard shows, in a partial index.)
        ]

    def __str__(self) -> str:
        return f"{self.operation} #{self.pk} ({self.state})"

    @property
    def is_terminal(self) -> bool:
        return self.state in self.TERMINAL

    @property
    def waits_for_broker(self) -> bool:
        """Saved while the broker was down: the sweeper sends it once the broker is back."""
        return self.state == self.State.QUEUED and self.error == publishing.BROKER_DOWN


class Attempt(models.Model):
    """One claim of an action by a worker: when, what happened, the redacted calls."""

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        RETRY = "retry", "Will retry"
        UNKNOWN = "unknown", "Unknown"
        LOST = "lost", "Worker lost"
        CANCELLED = "cancelled", "Cancelled"
        THROTTLED = "throttled", "Rate limited"

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="attempt_set")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RUNNING)
    #: Its outcome arrived after the action had been resent: recorded here only.
    late = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")
    #: The connector's redacted ``CallRecord``s (method, url, request, status, response).
    calls = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)
    task_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["action", "number"]
        constraints = [
            models.UniqueConstraint(fields=["action", "number"], name="attempt_unique_number")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of action {self.action_id}: {self.outcome}"


class RateBucket(models.Model):
    """The shared rate-limit state of one connection (database backend of ``ratelimit``)."""

    connection = models.OneToOneField(
        Connection, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    #: Unix time of the next free slot (the bucket's theoretical arrival time).
    next_at = models.FloatField(default=0.0)
    #: Unix time until which nothing is sent (the remote answered "too many requests").
    paused_until = models.FloatField(default=0.0)
    day = models.DateField(null=True, blank=True)
    day_count = models.PositiveIntegerField(default=0)
    version = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"rate bucket of connection {self.connection_id}"
