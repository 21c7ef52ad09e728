"""Read the simulated Collect! database: pages of a table, one record, one contact plan.

Pages are range reads in ``remote_id`` (rowid) order on the ``(kind, collection,
remote_id)`` index, never a large OFFSET: each table's rowids are dense from 1
(the seeder numbers them; plans never insert into these tables), so the first rowid of a
page is found by skipping the few deleted rowids, and the page is a range read from there.
A million-row table pages as cheaply as a small one (an OFFSET read costs time in
proportion to the offset; at a million rows, most of a second per deep page).
"""

from __future__ import annotations

from typing import Any

from crmhub.sandbox.collect.tables import KIND, row_id_field
from crmhub.sandbox.models import Record


def _live(table: str) -> Any:
    return Record.objects.filter(kind=KIND, collection=table, deleted=False)


def _deleted(table: str) -> list[int]:
    # ``deleted__in=[True]`` compiles to ``deleted IN (1)``, which SQLite matches on the
    # index; ``deleted=True`` compiles to a bare ``deleted`` test, which it does not.
    rows = Record.objects.filter(kind=KIND, collection=table, deleted__in=[True])
    return list(rows.order_by("remote_id").values_list("remote_id", flat=True))


def _nth_rowid(position: int, deleted: list[int]) -> int:
    """Return the rowid of the ``position``-th (from 1) live row, rowids being dense."""
    rowid = position
    for dead in deleted:
        if dead > rowid:
            break
        rowid += 1
    return rowid


def page_of(table: str, *, limit: int, page: int) -> dict[str, Any]:
    """Return the read end point's answer for one page of ``table``."""
    live, deleted = _live(table), _deleted(table)
    last = live.order_by("-remote_id").values_list("remote_id", flat=True).first() or 0
    total = max(last, deleted[-1] if deleted else 0) - len(deleted)
    start = (page - 1) * limit
    first = _nth_rowid(start + 1, deleted)
    rows = live.filter(remote_id__gte=first).order_by("remote_id")
    data = list(rows.values_list("data", flat=True)[:limit]) if start < total else []
    return {
        "type": {
            "recId": table,
            "rowId": row_id_field(table),
            "numRecords": total,
            "numPages": -(-total // limit),
        },
        "data": data,
    }


def find(table: str, rowid: int) -> Record | None:
    """Return the live record ``rowid`` of ``table``, or None."""
    return _live(table).filter(remote_id=rowid).first()


def find_plan(code: str) -> Record | None:
    """Return the contact plan whose ``cp_code`` is exactly ``code``, or None."""
    for record in _live("contact_plan").order_by("remote_id"):
        if record.data.get("cp_code") == code:
            return record
    return None
