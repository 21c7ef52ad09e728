"""GetContacts' documented filters: which contacts a call asks for.

Documented (``spec/public-facts.md`` §1, the vendor's GetContacts page): ``contactid``;
``email`` or ``otheremail``; ``phone``, which searches all four phone fields;
``teammemberid``, the team member database a contact belongs to (blank: all of them);
other text fields; ``*`` wildcards at the start or end of email and phone. The filters
this simulator does not implement are refused by name (``assumptions.py``), never ignored.
Filters combine with AND.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from crmhub.sandbox.allclients import rules, store
from crmhub.sandbox.allclients.assumptions import ASSUMPTIONS

#: Form fields GetContacts understands (the implemented filters among them).
KNOWN_FIELDS = frozenset(
    {
        "accountid",
        "apikey",
        "response_type",
        "pagingsize",
        "pagingoffset",
        "teammemberid",
        "contactid",
        "phone",
        *ASSUMPTIONS.text_filters,
    }
)
_NON_DIGITS = re.compile(r"\D+")
#: Needles a LIKE on the stored JSON text finds as they are (no JSON escape, no case
#: beyond ASCII, which is all SQLite's LIKE folds).
_PLAIN = re.compile(r"[A-Za-z0-9@._+' -]+")

Match = Callable[[str], bool]


def _digits(value: str) -> str:
    digits = _NON_DIGITS.sub("", value)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def _pattern(raw: str, normalise: Callable[[str], str]) -> tuple[Match, str]:
    """Return a matcher of ``raw`` (``*`` at either end a wildcard) and its fixed part."""
    value = raw.strip()
    starts, ends = value.startswith("*"), value.endswith("*") and len(value) > 1
    wanted = normalise(value.strip("*"))
    if starts and ends:
        return (lambda text: wanted in normalise(text)), wanted
    if starts:
        return (lambda text: normalise(text).endswith(wanted)), wanted
    if ends:
        return (lambda text: normalise(text).startswith(wanted)), wanted
    return (lambda text: normalise(text) == wanted), wanted


def _fold(text: str) -> str:
    return text.strip().casefold()


@dataclass(frozen=True)
class ContactFilter:
    """The filters of one GetContacts call; ``None``/empty where not given."""

    contact_id: int | None = None
    team_member_id: int | None = None
    texts: tuple[tuple[str, Match], ...] = ()
    phone: Match | None = None
    #: A cheap SQL narrowing (a LIKE on the stored JSON); ``matches`` decides exactly.
    #: Phones are not narrowed: their digits may be split by any separator.
    coarse: Q | None = None

    @property
    def empty(self) -> bool:
        return self == ContactFilter()

    def matches(self, remote_id: int, data: Mapping[str, Any]) -> bool:
        """Return whether the contact ``remote_id`` with ``data`` passes every filter."""
        if self.contact_id is not None and remote_id != self.contact_id:
            return False
        team_member_id = int(data.get("teammemberid") or 0)
        if self.team_member_id is not None and team_member_id != self.team_member_id:
            return False
        for name, match in self.texts:
            if not match(str(data.get(name) or "")):
                return False
        if self.phone is not None:
            phones = (str(data.get(name) or "") for name in ASSUMPTIONS.phone_fields)
            return any(phone.strip() and self.phone(phone) for phone in phones)
        return True


def contact_filter(fields: Mapping[str, str]) -> ContactFilter:
    """Return the filters of a GetContacts call; refuse unknown or unsupported fields."""
    rules.check_fields(fields, KNOWN_FIELDS, frozenset(ASSUMPTIONS.unsupported_filters))
    coarse = Q()
    texts: list[tuple[str, Match]] = []
    for name in ASSUMPTIONS.text_filters:
        raw = fields.get(name, "").strip()
        if raw.strip("*"):
            match, fixed = _pattern(raw, _fold)
            texts.append((name, match))
            if _PLAIN.fullmatch(fixed):
                coarse &= Q(data__icontains=fixed)
    phone = None
    raw_phone = fields.get("phone", "").strip()
    if _NON_DIGITS.sub("", raw_phone):
        phone, _fixed = _pattern(raw_phone, _digits)
    team_member_id = rules.number(fields, "teammemberid")
    if team_member_id is not None and store.find(store.TEAM_MEMBER, team_member_id) is None:
        raise rules.refuse("team_member_not_found")
    return ContactFilter(
        contact_id=rules.number(fields, "contactid"),
        team_member_id=team_member_id,
        texts=tuple(texts),
        phone=phone,
        coarse=coarse if coarse else None,
    )


def matching(found: ContactFilter) -> Iterator[store.ContactRow]:
    """Yield the contacts passing ``found``, in contactid order."""
    query = store.rows(store.CONTACT)
    if found.contact_id is not None:
        query = query.filter(remote_id=found.contact_id)
    if found.coarse is not None:
        query = query.filter(found.coarse)
    for remote_id, data in (
        query.order_by("remote_id").values_list("remote_id", "data").iterator(chunk_size=2000)
    ):
        if found.matches(remote_id, data):
            yield store.ContactRow(remote_id, data)
