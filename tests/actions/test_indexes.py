"""The actions table keeps one index per lookup: none that another index already serves."""

from __future__ import annotations

import pytest
from django.db import connection as db
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from crmhub.actions.models import Action
from crmhub.actions.selectors import action_page

TABLE = Action._meta.db_table
BEFORE = ("actions", "0007_open_actions_index_postgresql")
AFTER = ("actions", "0008_drop_redundant_indexes")
#: Partial indexes (migrations 0006 and 0007): they serve only some rows, so they cover no
#: other index's lookups.
PARTIAL = ("action_open", "action_single_recent")


def _indexes() -> dict[str, list[str]]:
    """Return the table's indexes (unique ones and the primary key too): name -> columns."""
    with db.cursor() as cursor:
        found = db.introspection.get_constraints(cursor, TABLE)
    return {name: info["columns"] for name, info in found.items() if info["index"]}


def _migrate(target: tuple[str, str] | None = None) -> None:
    """Migrate the actions app to ``target`` (its latest migration by default)."""
    executor = MigrationExecutor(db)
    executor.loader.build_graph()
    executor.migrate([target or executor.loader.graph.leaf_nodes("actions")[0]])


@pytest.mark.django_db
def test_no_index_is_the_prefix_of_another():
    indexes = _indexes()
    redundant = [
        (name, other)
        for name, columns in indexes.items()
        for other, wider in indexes.items()
        if other != name
        and other not in PARTIAL
        and len(wider) > len(columns)
        and wider[: len(columns)] == columns
        # a unique index enforces something: it stays even when another covers its columns
        and not name.endswith(("_pkey", "_key", "_uniq"))
    ]
    assert redundant == []
    # ...and each foreign key the migration unindexed still leads an index of its own
    for column in ("connection_id", "contact_id", "batch_id"):
        assert any(columns[0] == column for columns in indexes.values()), column


@pytest.mark.django_db(transaction=True)
def test_the_migration_drops_the_redundant_indexes_and_is_reversible():
    try:
        _migrate(BEFORE)
        before = _indexes()
        for column in ("connection_id", "contact_id", "batch_id"):
            assert [column] in before.values(), column
        likes = [name for name in before if name.endswith("_like")]
        assert len(likes) == (1 if db.vendor == "postgresql" else 0)
        _migrate(AFTER)
        after = _indexes()
        assert set(before) - set(after) == {
            name
            for name, columns in before.items()
            if len(columns) == 1 and columns[0] in ("connection_id", "contact_id", "batch_id")
        } | set(likes)
        assert set(after) <= set(before)
    finally:
        _migrate()


@pytest.mark.django_db
def test_the_actions_page_walks_the_index_without_a_sort(connection):
    """A bulk act's actions share one ``created_at``: the actions page (newest first, then
    by id) walks the index and stops at the page's end, rather than read, join and sort the
    whole act's actions."""
    now = timezone.now()
    Action.objects.bulk_create(
        Action(operation="run", connection=connection, created_at=now, idempotency_key=f"k{n}")
        for n in range(2000)
    )
    with db.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")
    page = Action.objects.select_related("connection", "contact", "requested_by")
    sql, params = page.order_by("-created_at", "-id")[:51].query.sql_with_params()
    with db.cursor() as cursor:
        cursor.execute(
            ("EXPLAIN QUERY PLAN " if db.vendor == "sqlite" else "EXPLAIN ") + sql, params
        )
        plan = "\n".join(str(row) for row in cursor.fetchall())
    assert "action_created_id" in plan, plan
    assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan
    assert [a.pk for a in action_page(limit=50).rows] == sorted(
        Action.objects.values_list("pk", flat=True), reverse=True
    )[:50]
