"""The latest single acts' index on SQLite only.

PostgreSQL's planner took ``action_single_recent`` for the dashboard's attention queries
(``COALESCE(batch_id, 0) = 0`` is their filter too) and ANDed it with the state index, then
sorted every failed act to keep ten: 153 ms a dashboard at 100,000 actions, 67 ms without
it. PostgreSQL finds the latest single acts fast without it (2 ms). SQLite needs it: its
newest-first walk of ``action_created`` stepped over every bulk action (26 → 2.8 ms).
"""

from django.db import migrations

INDEX = "action_single_recent"
CREATE = (
    f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "actions_action" '
    '(COALESCE("batch_id", 0), "created_at") WHERE NOT "safe"'
)


def create_on_sqlite(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(CREATE)


def drop_on_sqlite(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    dependencies = [("actions", "0005_single_recent_index")]

    operations = [
        migrations.RemoveIndex(model_name="action", name=INDEX),
        migrations.RunPython(create_on_sqlite, drop_on_sqlite, elidable=False),
    ]
