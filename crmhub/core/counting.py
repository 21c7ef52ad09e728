"""Count rows by creation time, for charts, in one statement whatever the number of rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise

from django.db import connection as db
from django.db.models import Model


def created_per_range(model: type[Model], edges: Sequence[datetime]) -> list[int]:
    """Return how many rows of ``model`` were created in each [edge, next edge) range.

    One statement of scalar sub-queries, each an index-only range count on ``created_at``:
    no per-row date function, no sort, whatever the number of rows.
    """
    table = db.ops.quote_name(model._meta.db_table)
    column = db.ops.quote_name("created_at")
    ranges = list(pairwise(edges))
    # Names come from the model (quoted), values are bound parameters.
    count = f"(SELECT COUNT(*) FROM {table} WHERE {column} >= %s AND {column} < %s)"  # noqa: S608
    select = ", ".join(count for _ in ranges)
    params = [db.ops.adapt_datetimefield_value(edge) for pair in ranges for edge in pair]
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {select}", params)
        row = cursor.fetchone()
    return [int(value or 0) for value in row]
