"""The full-text index of contacts, per database vendor.

SQLite: an external-content FTS5 table over the ``search_*`` columns, kept in step by
triggers on every insert, update of those columns, and delete (so the sync's bulk
statements keep it current without extra work); prefix indexes make as-you-type prefixes
cheap; ``detail=column`` keeps it small (no phrase queries are needed).

PostgreSQL: a generated ``tsvector`` (names weight A, company and emails B, phone digits C)
with a GIN index, and a trigram GIN index on the names for typo-tolerant matching.
"""

from django.db import migrations

SQLITE_FORWARD = [
    """
    CREATE VIRTUAL TABLE contacts_contact_fts USING fts5(
        search_names, search_other, search_phones,
        content='contacts_contact', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', prefix='1 2 3', detail=column
    )
    """,
    """
    CREATE TRIGGER contacts_contact_fts_insert AFTER INSERT ON contacts_contact BEGIN
        INSERT INTO contacts_contact_fts(rowid, search_names, search_other, search_phones)
        VALUES (new.id, new.search_names, new.search_other, new.search_phones);
    END
    """,
    """
    CREATE TRIGGER contacts_contact_fts_delete AFTER DELETE ON contacts_contact BEGIN
        INSERT INTO contacts_contact_fts(
            contacts_contact_fts, rowid, search_names, search_other, search_phones)
        VALUES ('delete', old.id, old.search_names, old.search_other, old.search_phones);
    END
    """,
    """
    CREATE TRIGGER contacts_contact_fts_update
    AFTER UPDATE OF search_names, search_other, search_phones ON contacts_contact BEGIN
        INSERT INTO contacts_contact_fts(
            contacts_contact_fts, rowid, search_names, search_other, search_phones)
        VALUES ('delete', old.id, old.search_names, old.search_other, old.search_phones);
        INSERT INTO contacts_contact_fts(rowid, search_names, search_other, search_phones)
        VALUES (new.id, new.search_names, new.search_other, new.search_phones);
    END
    """,
    "INSERT INTO contacts_contact_fts(contacts_contact_fts) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS contacts_contact_fts_update",
    "DROP TRIGGER IF EXISTS contacts_contact_fts_delete",
    "DROP TRIGGER IF EXISTS contacts_contact_fts_insert",
    "DROP TABLE IF EXISTS contacts_contact_fts",
]
POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """
    ALTER TABLE contacts_contact ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, search_names), 'A')
        || setweight(to_tsvector('simple'::regconfig, search_other), 'B')
        || setweight(to_tsvector('simple'::regconfig, search_phones), 'C')
    ) STORED
    """,
    "CREATE INDEX contacts_contact_search_vector ON contacts_contact USING gin (search_vector)",
    """
    CREATE INDEX contacts_contact_search_names_trgm
    ON contacts_contact USING gin (search_names gin_trgm_ops)
    """,
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS contacts_contact_search_names_trgm",
    "DROP INDEX IF EXISTS contacts_contact_search_vector",
    "ALTER TABLE contacts_contact DROP COLUMN IF EXISTS search_vector",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        )
    ]
