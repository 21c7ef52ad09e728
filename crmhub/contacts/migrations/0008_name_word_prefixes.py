"""PostgreSQL: the spelling index's words in byte order, with their counts, so that the
search counts the names starting with a prefix (``spelling.prefix_counts``: ``LIKE 'ma%'``)
from the index alone, whatever the database's collation (the primary key follows the
collation, which answers a ``LIKE`` only under "C"). SQLite's search does not ask.
"""

from __future__ import annotations

from django.db import migrations

INDEX = "contacts_nameword_word_prefix"


def _create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON contacts_nameword (word varchar_pattern_ops) INCLUDE (live)"
        )


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0007_names_vector_index")]

    operations = [migrations.RunPython(_create, _drop)]
