"""PostgreSQL: ``contacts_contactkey.contact_id`` without its foreign key constraint.

The constraint checked each key row a sync wrote with a query of its own at commit (a
lookup of the contact and a lock on it): 37% of the server's work on the keys, 4.2-4.9 s
of PostgreSQL's CPU for 1,000,000 keys (two a contact). It guarded nothing the writes do
not already ensure: a key row is only written with the id its contact's insert has just
returned in the same transaction, and contacts are never deleted by a sync (they are
marked deleted); deleting one through Django deletes its keys first (``on_delete`` is
Django's, not the database's). SQLite keeps its constraint (it is checked with the row,
and removing it would rebuild the table and drop its trigger).
"""

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models

CONSTRAINT = "contacts_contactkey_contact_id_79618cda_fk_contacts_contact_id"


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint "
            "WHERE conrelid = 'contacts_contactkey'::regclass AND contype = 'f'"
        )
        names = [name for (name,) in cursor.fetchall()]
    for name in names:
        schema_editor.execute(f'ALTER TABLE contacts_contactkey DROP CONSTRAINT "{name}"')


def _restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'ALTER TABLE contacts_contactkey ADD CONSTRAINT "{CONSTRAINT}" FOREIGN KEY '
            "(contact_id) REFERENCES contacts_contact (id) DEFERRABLE INITIALLY DEFERRED"
        )


class Migration(migrations.Migration):
    dependencies = [("contacts", "0008_name_word_prefixes")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="contactkey",
                    name="contact",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="keys",
                        to="contacts.contact",
                    ),
                )
            ],
            database_operations=[migrations.RunPython(_drop, _restore, elidable=False)],
        )
    ]
