"""SQLite: the spelling index of the typo tier (``contacts.spelling``), built from the contacts.

``contacts_nameword`` holds each name word of five to forty letters that live contacts carry,
with how many do; ``contacts_namevariant`` each such word under itself and under every
one-letter deletion of it. The sync keeps both current. PostgreSQL needs neither: its typo
tier is the trigram index of ``0002_search_index``.
"""

from django.db import migrations

POSITIONS = "[" + ", ".join(str(n) for n in range(1, 41)) + "]"
SQLITE_FORWARD = [
    "CREATE TABLE contacts_nameword (word TEXT PRIMARY KEY, live INTEGER NOT NULL) WITHOUT ROWID",
    """
    CREATE TABLE contacts_namevariant (
        variant TEXT NOT NULL, word TEXT NOT NULL, PRIMARY KEY (variant, word)
    ) WITHOUT ROWID
    """,
    """
    INSERT INTO contacts_nameword (word, live)
    SELECT w.value, count(*) FROM contacts_contact c,
        json_each('["' || replace(c.search_names, ' ', '","') || '"]') w
    WHERE c.deleted_at IS NULL AND length(w.value) BETWEEN 5 AND 40
    GROUP BY w.value
    """,
    f"""
    INSERT INTO contacts_namevariant (variant, word)
    SELECT substr(w.word, 1, p.value - 1) || substr(w.word, p.value + 1), w.word
    FROM contacts_nameword w, json_each('{POSITIONS}') p WHERE p.value <= length(w.word)
    UNION SELECT word, word FROM contacts_nameword
    """,
]
SQLITE_BACKWARD = [
    "DROP TABLE IF EXISTS contacts_namevariant",
    "DROP TABLE IF EXISTS contacts_nameword",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("contacts", "0005_sync_retries_and_confirmations")]

    operations = [migrations.RunPython(_run(SQLITE_FORWARD), _run(SQLITE_BACKWARD))]
