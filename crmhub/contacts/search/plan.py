"""A query read into a ``Plan``, what narrows a search (``Filters``), and the tier of one
contact in Python: the same rules as the SQL of ``sqlite`` and ``postgres``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crmhub.contacts import normalize

TIER_EXACT, TIER_NAME_WORD, TIER_NAME_PREFIX, TIER_ANY_PREFIX, TIER_FUZZY = range(5)
TIER_BROWSE = 9
MAX_TERMS = 8
# The values bound to a statement's placeholders, as a database cursor takes them.
Params = list[Any]


@dataclass(frozen=True)
class Filters:
    """What narrows a search: CRMs (kinds), connections, record types, deleted or not."""

    kinds: tuple[str, ...] = ()
    connection_ids: tuple[int, ...] = ()
    record_types: tuple[str, ...] = ()
    include_deleted: bool = False


@dataclass(frozen=True)
class Plan:
    """A query, read: its folded words, and the email or phone it may be exactly."""

    terms: tuple[str, ...] = ()
    email: str | None = None
    phone: str | None = None
    browse: bool = False

    @property
    def empty(self) -> bool:
        return not (self.terms or self.email or self.phone or self.browse)


def plan_for(query: str) -> Plan:
    """Return how ``query`` is searched (blank: browse everything)."""
    text = (query or "").strip()
    if not text:
        return Plan(browse=True)
    phone = normalize.query_phone_digits(text)
    email = normalize.email_key(text)
    # An email's words are those before the "@": its domain ("example", "com") is shared by
    # half the index and would make every word tier walk it for nothing.
    typed = text.rpartition("@")[0] if email else text
    terms = (phone,) if phone else tuple(dict.fromkeys(normalize.words(typed)))[:MAX_TERMS]
    return Plan(terms=terms, email=email, phone=phone)


def _all_in(terms: Sequence[str], tokens: Sequence[str], *, prefix: bool) -> bool:
    if prefix:
        return all(any(token.startswith(term) for token in tokens) for term in terms)
    return all(term in tokens for term in terms)


def tier_of(
    plan: Plan,
    *,
    names: str,
    other: str,
    phones: str,
    email_keys: Sequence[str],
    fixes: Mapping[str, Sequence[str]] | None = None,
) -> int:
    """Return the tier a contact with these search columns falls in (-1: no match). The
    typo tier needs the corrections the search looked up (``fixes``; without them a
    contact found only by a typo is no match)."""
    if plan.browse:
        return TIER_BROWSE
    phone_tokens = phones.split()
    if (plan.email and plan.email in email_keys) or (plan.phone and plan.phone in phone_tokens):
        return TIER_EXACT
    if not plan.terms:
        return -1
    name_tokens = names.split()
    if _all_in(plan.terms, name_tokens, prefix=False):
        return TIER_NAME_WORD
    if _all_in(plan.terms, name_tokens, prefix=True):
        return TIER_NAME_PREFIX
    tokens = name_tokens + other.split() + phone_tokens
    if _all_in(plan.terms, tokens, prefix=True):
        return TIER_ANY_PREFIX
    if fixes and all(
        any(token.startswith(term) for token in tokens)
        or any(word in name_tokens for word in fixes.get(term, ()))
        for term in plan.terms
    ):
        return TIER_FUZZY  # every word as typed (anywhere) or corrected (a name word)
    return -1
