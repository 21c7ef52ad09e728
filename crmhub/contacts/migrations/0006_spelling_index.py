"""The spelling index of the typo tier (``contacts.spelling``), built from the contacts.

``contacts_nameword`` holds each name word of five to forty letters that live contacts carry,
with how many do; ``contacts_namevariant`` each such word under itself and under every
one-letter deletion of it. The sync's writer keeps both current. The tables are made here
rather than by Django: on SQLite without a rowid (a variant is only ever looked up by its
key), on both without the extra pattern index Django adds to text keys on PostgreSQL.
"""

from django.db import migrations, models

CREATE = [
    """
    CREATE TABLE contacts_nameword (word varchar(40) PRIMARY KEY, live integer NOT NULL)
    {without_rowid}
    """,
    """
    CREATE TABLE contacts_namevariant (
        variant varchar(40) NOT NULL, word varchar(40) NOT NULL, PRIMARY KEY (variant, word)
    ) {without_rowid}
    """,
]
SQLITE_BUILD = [
    """
    INSERT INTO contacts_nameword (word, live)
    SELECT w.value, count(*) FROM contacts_contact c,
        json_each('["' || replace(c.search_names, ' ', '","') || '"]') w
    WHERE c.deleted_at IS NULL AND length(w.value) BETWEEN 5 AND 40
    GROUP BY w.value
    """,
    """
    INSERT INTO contacts_namevariant (variant, word)
    SELECT substr(w.word, 1, p.value - 1) || substr(w.word, p.value + 1), w.word
    FROM contacts_nameword w, json_each('[{positions}]') p WHERE p.value <= length(w.word)
    UNION SELECT word, word FROM contacts_nameword
    """.replace("{positions}", ", ".join(str(n) for n in range(1, 41))),
]
POSTGRES_BUILD = [
    """
    INSERT INTO contacts_nameword (word, live)
    SELECT w, count(*) FROM contacts_contact c, regexp_split_to_table(c.search_names, ' ') w
    WHERE c.deleted_at IS NULL AND length(w) BETWEEN 5 AND 40
    GROUP BY w
    """,
    """
    INSERT INTO contacts_namevariant (variant, word)
    SELECT substr(word, 1, p - 1) || substr(word, p + 1), word
    FROM contacts_nameword, generate_series(1, 40) p WHERE p <= length(word)
    UNION SELECT word, word FROM contacts_nameword
    """,
]
DROP = ["DROP TABLE IF EXISTS contacts_namevariant", "DROP TABLE IF EXISTS contacts_nameword"]


def _create(apps, schema_editor):
    sqlite = schema_editor.connection.vendor == "sqlite"
    for statement in CREATE:
        schema_editor.execute(statement.format(without_rowid="WITHOUT ROWID" if sqlite else ""))
    for statement in SQLITE_BUILD if sqlite else POSTGRES_BUILD:
        schema_editor.execute(statement)


def _drop(apps, schema_editor):
    for statement in DROP:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("contacts", "0005_sync_retries_and_confirmations")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(_create, _drop)],
            state_operations=[
                migrations.CreateModel(
                    name="NameVariant",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "variant", "word", blank=True, editable=False,
                                primary_key=True, serialize=False,
                            ),
                        ),
                        ("variant", models.CharField(max_length=40)),
                        ("word", models.CharField(max_length=40)),
                    ],
                ),
                migrations.CreateModel(
                    name="NameWord",
                    fields=[
                        (
                            "word",
                            models.CharField(max_length=40, primary_key=True, serialize=False),
                        ),
                        ("live", models.IntegerField()),
                    ],
                ),
            ],
        ),
    ]
