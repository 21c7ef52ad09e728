"""Staff corrections of matching: split a record out of a person, join two people, undo.

Each is a ``MatchCorrection`` row (who, when, why, and the records it speaks of) that every
later matching obeys (``constraints``) until it is undone. The records it speaks of are
matched again at once, in the same transaction; should that need the full pass (a very
large component), they are marked for the next matching and a matching task is queued.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from crmhub.contacts.matching import persons_match
from crmhub.contacts.models import Contact, MatchCorrection, MatchCorrectionContact

logger = logging.getLogger(__name__)
Side = MatchCorrectionContact.Side


class CorrectionError(Exception):
    """The correction cannot be made (the message says why, for staff)."""


def _actor(user: Any) -> Any:
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _records_of(contact: Contact) -> list[int]:
    """Return the ids of the records of ``contact``'s person (or of ``contact`` alone)."""
    if contact.person_id is None:
        return [contact.pk]
    records = Contact.objects.filter(person_id=contact.person_id).order_by("pk")
    return list(records.values_list("pk", flat=True))


def _rematch(contact_ids: Sequence[int]) -> None:
    """Match ``contact_ids`` again now (or mark them for the next matching, queued)."""
    result = persons_match(contact_ids=contact_ids, allow_full=False)
    if result.deferred:
        from crmhub.contacts.tasks import persons_match as persons_match_task

        Contact.objects.filter(pk__in=list(contact_ids)).update(needs_match=True)
        transaction.on_commit(persons_match_task.delay, robust=True)


def _record(kind: str, sides: dict[str, list[int]], user: Any, reason: str) -> MatchCorrection:
    correction = MatchCorrection.objects.create(
        kind=kind, reason=reason.strip(), created_by=_actor(user)
    )
    MatchCorrectionContact.objects.bulk_create(
        MatchCorrectionContact(correction=correction, contact_id=pk, side=side)
        for side, ids in sides.items()
        for pk in ids
    )
    return correction


def person_split(*, contact: Contact, user: Any, reason: str = "") -> MatchCorrection:
    """Record that ``contact`` is not the same person as the other records of its person,
    and match them again; return the correction. ``CorrectionError`` if it has none."""
    with transaction.atomic():
        contact = Contact.objects.get(pk=contact.pk)
        others = [pk for pk in _records_of(contact) if pk != contact.pk]
        if contact.person_id is None or not others:
            raise CorrectionError("This record is not joined to any other: nothing to split.")
        correction = _record(MatchCorrection.Kind.SPLIT, {Side.A: [contact.pk], Side.B: others},
                             user, reason)  # fmt: skip
        _rematch([contact.pk, *others])
    logger.info("correction %s: contact %s split from %s", correction.pk, contact.pk, others)
    return correction


def person_join(
    *, contact: Contact, other: Contact, user: Any, reason: str = ""
) -> MatchCorrection:
    """Record that ``contact``'s person (or the record alone) and ``other``'s are one
    person, and match them again; return the correction. ``CorrectionError`` if they
    already are one."""
    with transaction.atomic():
        contact = Contact.objects.get(pk=contact.pk)
        other = Contact.objects.get(pk=other.pk)
        first, second = _records_of(contact), _records_of(other)
        if set(first) & set(second):
            raise CorrectionError("These records are already one person.")
        correction = _record(MatchCorrection.Kind.JOIN, {Side.A: first, Side.B: second},
                             user, reason)  # fmt: skip
        _rematch([*first, *second])
    logger.info("correction %s: %s joined with %s", correction.pk, first, second)
    return correction


def correction_undo(*, correction: MatchCorrection, user: Any) -> MatchCorrection:
    """Undo ``correction``: its records are matched again by the rule (and the other
    corrections); return it. ``CorrectionError`` if it was already undone."""
    with transaction.atomic():
        undone = MatchCorrection.objects.filter(pk=correction.pk, undone_at__isnull=True).update(
            undone_at=timezone.now(), undone_by=_actor(user)
        )
        correction.refresh_from_db()
        if not undone:
            raise CorrectionError("This correction was already undone.")
        members = list(correction.members.values_list("contact_id", flat=True))
        _rematch(members)
    logger.info("correction %s undone", correction.pk)
    return correction
