"""Leaner writes for the sync: fewer indexes to keep, and an FTS5 table without sizes.

Every row a sync writes updated two indexes nothing reads: ``contacts_contact(connection)``
(the unique ``(connection, remote_id)`` and ``(connection, deleted_at)`` lead with it) and
``contacts_contactkey(contact)`` (the unique ``(contact, type, value)`` does), plus a second
index on ``contacts_contact(person)``. They are dropped in place (no table rebuild).

SQLite: the FTS5 table is made again with ``columnsize=0`` (search orders by id and never
ranks by bm25, so the per-row column sizes it stored were written for nothing) and
``automerge=16``: FTS5 merged its segments after every few page commits of a sync, which
was most of the cost of writing a contact; at 16 segments a level, merging costs a third
as much and a search at a million contacts is as fast (``manage.py bench``).
"""

import django.db.models.deletion
from django.db import migrations, models

FTS_COLUMNS = "search_names, search_other, search_phones"
SQLITE_FTS = [
    "DROP TRIGGER IF EXISTS contacts_contact_fts_update",
    "DROP TRIGGER IF EXISTS contacts_contact_fts_delete",
    "DROP TRIGGER IF EXISTS contacts_contact_fts_insert",
    "DROP TABLE IF EXISTS contacts_contact_fts",
    f"""
    CREATE VIRTUAL TABLE contacts_contact_fts USING fts5(
        {FTS_COLUMNS},
        content='contacts_contact', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', prefix='1 2 3', detail=column, columnsize=%d
    )
    """,
    f"""
    CREATE TRIGGER contacts_contact_fts_insert AFTER INSERT ON contacts_contact BEGIN
        INSERT INTO contacts_contact_fts(rowid, {FTS_COLUMNS})
        VALUES (new.id, new.search_names, new.search_other, new.search_phones);
    END
    """,
    f"""
    CREATE TRIGGER contacts_contact_fts_delete AFTER DELETE ON contacts_contact BEGIN
        INSERT INTO contacts_contact_fts(contacts_contact_fts, rowid, {FTS_COLUMNS})
        VALUES ('delete', old.id, old.search_names, old.search_other, old.search_phones);
    END
    """,
    f"""
    CREATE TRIGGER contacts_contact_fts_update
    AFTER UPDATE OF {FTS_COLUMNS} ON contacts_contact BEGIN
        INSERT INTO contacts_contact_fts(contacts_contact_fts, rowid, {FTS_COLUMNS})
        VALUES ('delete', old.id, old.search_names, old.search_other, old.search_phones);
        INSERT INTO contacts_contact_fts(rowid, {FTS_COLUMNS})
        VALUES (new.id, new.search_names, new.search_other, new.search_phones);
    END
    """,
    "INSERT INTO contacts_contact_fts(contacts_contact_fts, rank) VALUES ('automerge', 16)",
    "INSERT INTO contacts_contact_fts(contacts_contact_fts) VALUES ('rebuild')",
]
DROPPED = ("contacts_contact_connection_id_638591e6", "contacts_contactkey_contact_id_79618cda")


def _fts(columnsize):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for statement in SQLITE_FTS:
                if "automerge" in statement and columnsize:
                    continue  # back to 0002: FTS5's default
                schema_editor.execute(statement.replace("%d", str(columnsize)))

    return run


def _indexes_drop(apps, schema_editor):
    for name in DROPPED:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def _indexes_create(apps, schema_editor):
    schema_editor.execute(f"CREATE INDEX {DROPPED[0]} ON contacts_contact (connection_id)")
    schema_editor.execute(f"CREATE INDEX {DROPPED[1]} ON contacts_contactkey (contact_id)")


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0001_initial"),
        ("contacts", "0002_search_index"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="contact", name="contacts_co_person__1ab853_idx"),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(_indexes_drop, _indexes_create)],
            state_operations=[
                migrations.AlterField(
                    model_name="contact",
                    name="connection",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="contacts",
                        to="connections.connection",
                    ),
                ),
                migrations.AlterField(
                    model_name="contactkey",
                    name="contact",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="keys",
                        to="contacts.contact",
                    ),
                ),
            ],
        ),
        migrations.RunPython(_fts(0), _fts(1)),
    ]
