"""Why a person's records are together, and the corrections staff made to them (selectors).

The evidence is what the last matching wrote on each record (``matched_by``): the keys and
staff joins that placed it. A record placed by phones only is weaker evidence (a phone is
more often shared than an email), so the person page marks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crmhub.contacts.matching.rule import EMAIL, ORDER, PHONE
from crmhub.contacts.models import (
    DISPLAY_FIELDS,
    Contact,
    MatchCorrection,
    MatchCorrectionContact,
)


@dataclass(frozen=True)
class Link:
    """One key (or staff join) and the records of the person it links."""

    kind: str  # "email", "phone" or "staff"
    value: str  # the key, or the correction's id
    records: tuple[Contact, ...]

    @property
    def label(self) -> str:
        return {EMAIL: "Email", PHONE: "Phone"}.get(self.kind, "Joined by staff")


@dataclass(frozen=True)
class Evidence:
    links: tuple[Link, ...]
    #: Ids of the records linked to the others by phones only.
    phone_only: frozenset[int]


def person_evidence(*, records: Sequence[Contact]) -> Evidence:
    """Return which key links which of ``records`` (a person's), and who only by phone."""
    by_label: dict[str, list[Contact]] = {}
    phone_only: set[int] = set()
    for record in records:
        labels = record.matched_by.split()
        for label in labels:
            by_label.setdefault(label, []).append(record)
        if labels and all(label.startswith(f"{PHONE}:") for label in labels):
            phone_only.add(record.pk)
    links = []
    for label, linked in by_label.items():
        kind, _, value = label.partition(":")
        links.append(Link(kind=kind, value=value, records=tuple(linked)))
    rank = {kind: index for index, kind in enumerate(ORDER)}
    links.sort(key=lambda link: (rank.get(link.kind, len(rank)), link.value))
    return Evidence(links=tuple(links), phone_only=frozenset(phone_only))


@dataclass(frozen=True)
class CorrectionView:
    """A correction with the records it speaks of (subject side first)."""

    correction: MatchCorrection
    members: tuple[MatchCorrectionContact, ...]


#: What a list of corrections shows of each: who, when, why, and its records' names.
CORRECTION_FIELDS = (
    "side",
    "correction__kind",
    "correction__reason",
    "correction__created_at",
    "correction__undone_at",
    "correction__created_by__username",
    "correction__undone_by__username",
    *(f"contact__{field}" for field in DISPLAY_FIELDS),
    "contact__connection__kind",
)


def corrections_of(*, contact_ids: Sequence[int], limit: int = 20) -> list[CorrectionView]:
    """Return the latest corrections speaking of any of ``contact_ids``, with their records.

    One query, whether there are corrections or not, of the fields the person page shows
    (``CORRECTION_FIELDS``: whole users and contacts made it twice as long to build).
    """
    latest = (
        MatchCorrection.objects.filter(members__contact_id__in=list(contact_ids))
        .order_by("-created_at", "-id")
        .values("pk")
        .distinct()[:limit]
    )
    rows = (
        MatchCorrectionContact.objects.filter(correction__in=latest)
        .select_related("correction__created_by", "correction__undone_by", "contact__connection")
        .only(*CORRECTION_FIELDS)
        .order_by("-correction__created_at", "-correction_id", "side", "contact_id")
    )
    found: dict[int, list[MatchCorrectionContact]] = {}
    for row in rows:
        found.setdefault(row.correction_id, []).append(row)
    return [CorrectionView(members[0].correction, tuple(members)) for members in found.values()]


def correction_detail(*, pk: int) -> MatchCorrection | None:
    """Return correction ``pk``, or None."""
    return MatchCorrection.objects.filter(pk=pk).first()
