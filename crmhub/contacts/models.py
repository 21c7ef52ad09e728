"""The local contact index: one row per remote record, people linked across CRMs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

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

    class Meta:
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return self.display_name or f"Person {self.pk}"


#: What a list shows of a contact it names: ``Contact.display_name``'s fields and the id in
#: the CRM (``only()`` these, prefixed with the relation, rather than whole rows).
DISPLAY_FIELDS = ("remote_id", "full_name", "first_name", "last_name", "company", "emails")


class Contact(models.Model):
    """One remote record of one connection, as the last sync that changed it saw it.

    Rows are only ever written by bulk statements of the sync (``contacts.sync``) and of
    matching (``contacts.matching``); a record the remote no longer lists gets
    ``deleted_at`` and stays. The ``search_*`` columns feed the full-text index (an FTS5
    table kept in step by triggers on SQLite, a generated ``tsvector`` on PostgreSQL).
    """

    #: No index of its own: (connection, remote_id) and (connection, deleted_at) lead with it.
    connection = models.ForeignKey(
        Connection, on_delete=models.PROTECT, related_name="contacts", db_index=False
    )
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
    #: When a sync last wrote this row (created, changed, restored); unchanged rows are
    #: not rewritten, so this is not "last seen".
    synced_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, blank=True, default="")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    #: How the contact was linked to its person: "email:<key>", "phone:<key>" or "".
    matched_by = models.CharField(max_length=320, blank=True, default="")
    #: Set by every write of the sync; matching clears it once the contact is placed.
    needs_match = models.BooleanField(default=True)
    #: Folded (lower-case, no accents) words for the full-text index.
    search_names = models.TextField(blank=True, default="", editable=False)
    search_other = models.TextField(blank=True, default="", editable=False)
    search_phones = models.TextField(blank=True, default="", editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "remote_id"], name="contact_remote_unique"
            )
        ]
        indexes = [  # person has the index of its foreign key
            models.Index(fields=["connection", "deleted_at"]),
            models.Index(
                fields=["needs_match"], condition=Q(needs_match=True), name="contact_needs_match"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.remote_id

    @property
    def display_name(self) -> str:
        """Return the best human-readable name the record has."""
        return (
            self.full_name
            or f"{self.first_name} {self.last_name}".strip()
            or self.company
            or (self.emails[0] if self.emails else "")
        )


class ContactKey(models.Model):
    """One normalised email or phone of a contact: exact lookups and person matching."""

    class Type(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone"

    #: No index of its own: the unique (contact, type, value) leads with it. No foreign key
    #: constraint on PostgreSQL (migration 0009): the sync writes a key only with the id
    #: its contact's insert returned, and Django deletes a contact's keys before it.
    contact = models.ForeignKey(
        Contact,
        on_delete=models.CASCADE,
        related_name="keys",
        db_index=False,
        db_constraint=False,
    )
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
    """One sync of one connection: what it did, how far it got, how it ended."""

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

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="sync_runs")
    mode = models.CharField(max_length=12, choices=Mode.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    requested_by = models.CharField(max_length=150, blank=True, default="schedule")
    created_at = models.DateTimeField(auto_now_add=True)
    #: When it was last queued: its request, or a retry after a failed attempt (the
    #: dispatcher and the reaper measure from here).
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    #: Staff confirmed the deletions of the flagged run ``confirms``: a full pass applies
    #: those the anomaly check would hold back, but no more than that run found missing.
    allow_mass_deletion = models.BooleanField(default=False)
    confirms = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="confirmed_by"
    )
    #: Incremental runs: records changed since this instant were asked for.
    since = models.DateTimeField(null=True, blank=True)
    #: Where the next incremental run may start (set when the run succeeds).
    cursor = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    #: Full runs: contacts not seen that a complete pass would have marked deleted.
    missing = models.PositiveIntegerField(default=0)
    #: A flagged run: the ids of those contacts, packed (``sync.pages.ids_pack``), so that a
    #: confirmation applies to exactly them.
    missing_ids = models.BinaryField(null=True, blank=True, editable=False)
    #: Live contacts of the connection when the run started (the anomaly check's base).
    live_before = models.PositiveIntegerField(null=True, blank=True)
    expected_total = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["connection", "state"])]
        constraints = [
            # One sync per connection at a time, whatever races the requests.
            models.UniqueConstraint(
                fields=["connection"],
                condition=Q(state__in=["queued", "running"]),
                name="syncrun_one_active_per_connection",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_mode_display()} sync of {self.connection_id} ({self.state})"

    @property
    def progress(self) -> int | None:
        """Return the percentage done when the remote said how many there are."""
        if not self.expected_total:
            return None
        return min(100, int(self.fetched * 100 / self.expected_total))

    @property
    def written(self) -> int:
        """Return how many contact rows the run wrote."""
        return self.created + self.updated + self.deleted


class MatchCorrection(models.Model):
    """A staff decision on who is the same person; every matching obeys it until undone.

    A split says the records of side "a" (the record split out) are not the same person
    as those of side "b" (the others of its person then); a join says the records of both
    sides (two people then) are one person. When two corrections speak of the same two
    records, the later one wins.
    """

    class Kind(models.TextChoices):
        SPLIT = "split", "Not the same person"
        JOIN = "join", "Same person"

    kind = models.CharField(max_length=5, choices=Kind.choices)
    reason = models.CharField(max_length=500, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("correct_person", "Can split and join people")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def active(self) -> bool:
        return self.undone_at is None


class MatchCorrectionContact(models.Model):
    """One record a correction speaks of, and on which side."""

    class Side(models.TextChoices):
        A = "a", "Subject"
        B = "b", "Other"

    correction = models.ForeignKey(
        MatchCorrection, on_delete=models.CASCADE, related_name="members"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="corrections")
    side = models.CharField(max_length=1, choices=Side.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["correction", "contact"], name="match_correction_contact_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.correction_id}:{self.side}:{self.contact_id}"


class ReleasedKey(models.Model):
    """A key a contact lost (a ``ContactKey`` row deleted, written by a database trigger).

    Its other holders may now be linked by it (a household phone with one holder left), so
    the next matching looks at them, then removes the row.
    """

    type = models.CharField(max_length=5)
    value = models.CharField(max_length=320)

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


class NameWord(models.Model):
    """A name word of five letters or more that live contacts carry, with how many do: the
    spelling index of the typo tier (``contacts.spelling``, kept by the sync's writer)."""

    word = models.CharField(max_length=40, primary_key=True)
    live = models.IntegerField()

    def __str__(self) -> str:
        return self.word


class NameVariant(models.Model):
    """A name word (``NameWord``) under itself or one of its one-letter deletions."""

    pk = models.CompositePrimaryKey("variant", "word")
    variant = models.CharField(max_length=40)
    word = models.CharField(max_length=40)

    def __str__(self) -> str:
        return f"{self.variant}:{self.word}"
