"""The open actions' index on PostgreSQL only: what still needs a person, in a few pages.

The dashboard counts the acts that need someone (unknown, failed, waiting for an answer,
unchecked) and lists the latest of each state. PostgreSQL read them from the heap, one row
in nine of every page at 100,100 actions (the bench's mix): the counts took 14.5 ms once
vacuumed. This partial index holds only them, in the order the lists walk (state, then
``not_before``, then id): the counts are an index-only scan (2.5 ms; 10 ms right after a
bulk load, before a vacuum has marked the pages all-visible), and each list stops at its
tenth entry. An insert of a queued action does not touch it (bulk runs insert
thousands); an action enters it when it fails, becomes unknown or waits for input.

SQLite is left as it is: its planner, without statistics, picks indexes by their shape,
and its figures for these queries are already good.
"""

from django.db import migrations

INDEX = "action_open"
CREATE = (
    f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "actions_action" ("state", "not_before", "id") '
    "WHERE \"state\" IN ('unknown', 'failed', 'needs_input') "
    'AND NOT "safe" AND "checked_at" IS NULL'
)


def create_on_postgresql(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_on_postgresql(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    dependencies = [("actions", "0006_single_recent_index_sqlite_only")]

    operations = [migrations.RunPython(create_on_postgresql, drop_on_postgresql, elidable=False)]
