"""SQLite: the full-text index's vocabulary (an ``fts5vocab`` table: no storage of its own,
read from the index), where the search finds the terms that start with a typed word
(``search.sqlite``). PostgreSQL: nothing."""

from django.db import migrations


def _create(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            "CREATE VIRTUAL TABLE contacts_contact_fts_vocab "
            "USING fts5vocab(contacts_contact_fts, 'row')"
        )


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TABLE contacts_contact_fts_vocab")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0009_contact_key_unchecked_on_postgresql")]

    operations = [migrations.RunPython(_create, _drop)]
