"""What the console's pages show, shaped from the apps' selectors.

Page data only: the reads are the apps' selectors (``actions``, ``contacts``,
``connections``), each list bounded and fetched with its relations, so the query count of a
page does not grow with the data; the rules live in the apps' services.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from crmhub.actions.selectors import actions_per_range
from crmhub.connections.kinds import kind_label, kind_syncs_incrementally
from crmhub.connections.models import Connection
from crmhub.connections.selectors import connection_list
from crmhub.console.paths import reverse_cached
from crmhub.contacts.models import Contact, RecordType, SyncRun
from crmhub.contacts.selectors import SyncOverview, sync_runs_overview, sync_runs_per_range

CHART_SECONDS = 60


# -- connections ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConnectionRow:
    connection: Connection
    contacts: int
    last_sync: SyncRun | None
    #: How fresh the connection's part of the index is (its last full and incremental runs).
    freshness: SyncOverview

    @property
    def incremental(self) -> bool:
        """Whether the CRM allows incremental syncs (else only full passes keep it fresh)."""
        return kind_syncs_incrementally(self.connection.kind)

    @property
    def syncing(self) -> bool:
        return self.last_sync is not None and self.last_sync.state in SyncRun.ACTIVE_STATES

    @property
    def throttled(self) -> bool:
        until = self.connection.throttled_until
        return until is not None and until > timezone.now()


def connection_rows(*, connections: Iterable[Connection] | None = None) -> list[ConnectionRow]:
    """Return every connection (or ``connections``) with its live contact count (as of its
    last sync), its latest sync run and the freshness of its part of the index."""
    items = list(connections if connections is not None else connection_list())
    overviews = sync_runs_overview(connection_ids=[c.pk for c in items])
    never = SyncOverview(None, None, None)
    rows = []
    for c in items:
        overview = overviews.get(c.pk, never)
        rows.append(ConnectionRow(c, c.contacts_live, overview.latest, overview))
    return rows


# -- activity -----------------------------------------------------------------------------------
def activity_per_day(*, days: int = 14) -> dict[str, list[Any]]:
    """Return actions and syncs per day over the last ``days`` days, for the chart.

    Kept a minute: the figures of past days do not change.
    """
    key = f"console:activity:{days}"
    cached: dict[str, list[Any]] | None = cache.get(key)
    if cached is not None:
        return cached
    zone = timezone.get_current_timezone()
    today = timezone.localdate()
    labels = [today - timedelta(days=days - 1 - n) for n in range(days)]
    edges = [datetime.combine(day, time.min, tzinfo=zone) for day in labels]
    edges.append(edges[-1] + timedelta(days=1))
    data: dict[str, list[Any]] = {
        "labels": [day.isoformat() for day in labels],
        "actions": actions_per_range(edges=edges),
        "syncs": sync_runs_per_range(edges=edges),
    }
    cache.set(key, data, CHART_SECONDS)
    return data


# -- search results ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ResultRow:
    """One search result as the contacts page shows it (built here: templates are slow)."""

    pick: str
    #: The row's person ("p12") or lone contact ("c34"): the same from one search to the next.
    key: str
    href: str
    title: str
    company: str
    kinds: tuple[tuple[str, str], ...]
    emails: str
    phones: str
    types: str
    exact: bool


def _pick(person_id: int, contacts: Iterable[Contact]) -> str:
    """Return a person row's pick: the person and the records the row shows ("p12.34.56")."""
    return ".".join(map(str, (f"p{person_id}", *sorted(c.pk for c in contacts))))


def result_rows(rows: Iterable[Any]) -> list[ResultRow]:
    """Return the contacts page's rows for ``contact_search`` rows (no query)."""
    types = dict(RecordType.choices)
    built = []
    for row in rows:
        contact = row.contact
        person_id = row.person.pk if row.person is not None else None
        built.append(
            ResultRow(
                pick=_pick(person_id, row.contacts) if person_id else f"c{contact.pk}",
                key=f"p{person_id}" if person_id else f"c{contact.pk}",
                href=reverse_cached("console:person-detail", [person_id])
                if person_id
                else reverse_cached("console:contact-detail", [contact.pk]),
                title=row.title or "(no name)",
                company=contact.company if contact.company != row.title else "",
                kinds=tuple((kind, kind_label(kind)) for kind in row.kinds),
                emails=", ".join(contact.emails),
                phones=", ".join(contact.phones),
                types=", ".join(
                    types.get(c.record_type, c.record_type) + (" (deleted)" if c.deleted_at else "")
                    for c in row.contacts
                ),
                exact=bool(row.exact),
            )
        )
    return built
