"""Lay a person's CRM records side by side and mark the fields that differ."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crmhub.contacts.models import Contact


@dataclass(frozen=True)
class FieldRow:
    label: str
    values: tuple[str, ...]
    differs: bool


def _fold(value: str) -> str:
    return " ".join(value.casefold().split())


def _name(c: Contact) -> tuple[str, str]:
    shown = c.full_name or f"{c.first_name} {c.last_name}".strip()
    return shown, _fold(shown)


def _company(c: Contact) -> tuple[str, str]:
    return c.company, _fold(c.company)


def _emails(c: Contact) -> tuple[str, str]:
    keys = c.email_keys or [_fold(e) for e in c.emails]
    return ", ".join(c.emails), "|".join(sorted(keys))


def _phones(c: Contact) -> tuple[str, str]:
    keys = c.phone_keys or ["".join(ch for ch in p if ch.isdigit()) for p in c.phones]
    return ", ".join(c.phones), "|".join(sorted(keys))


FIELDS: tuple[tuple[str, Callable[[Contact], tuple[str, str]]], ...] = (
    ("Name", _name),
    ("Company", _company),
    ("Emails", _emails),
    ("Phones", _phones),
)


def compare_records(records: Sequence[Contact]) -> list[FieldRow]:
    """Return one row per field: each record's value, and whether the records disagree.

    Values are compared folded (case, spacing; emails and phones by their normalised
    keys), and a record without the value does not count as a difference.
    """
    rows = []
    for label, read in FIELDS:
        pairs = [read(record) for record in records]
        keys = {key for _, key in pairs if key}
        rows.append(FieldRow(label, tuple(shown for shown, _ in pairs), len(keys) > 1))
    return rows


def raw_extras(record: Contact, *, limit: int = 12) -> list[tuple[str, Any]]:
    """Return a few scalar fields of the remote record worth showing beside the index's."""
    skip = {"emailAddresses", "phoneNumbers", "addresses"}
    items = []
    for key, value in (record.raw or {}).items():
        if key in skip or isinstance(value, dict | list) or value in (None, ""):
            continue
        items.append((key, value))
        if len(items) >= limit:
            break
    return items
