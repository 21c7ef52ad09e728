"""PostgreSQL: a GIN index of the names alone, for the search's name tiers; the trigram
index of the names goes (the search no longer asks for names close by trigrams, and every
write paid for it).

``search_vector``'s index holds every word without telling a name from a company: asked for
"Soylent" in the names, PostgreSQL had to read the row of every Soylent employee to check
the word's weight (seconds at a million contacts). This index answers the name tiers
exactly (``contacts.search.postgres._NAMES_MATCH`` spells the same expression). SQLite's full-text
table already keeps the names in a column of their own: nothing to do there.
"""

from __future__ import annotations

from django.db import migrations

INDEX = "contacts_contact_search_names_vector"
TRIGRAMS = "contacts_contact_search_names_trgm"


def _create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON contacts_contact "
            "USING gin (to_tsvector('simple'::regconfig, search_names))"
        )
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAMS}")


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {TRIGRAMS} ON contacts_contact "
            "USING gin (search_names gin_trgm_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [("contacts", "0006_spelling_index")]

    operations = [migrations.RunPython(_create, _drop)]
