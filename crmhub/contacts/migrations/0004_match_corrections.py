"""Staff corrections of person matching, and the keys contacts lose.

``MatchCorrection`` (with the records it speaks of in ``MatchCorrectionContact``) keeps
each split and join staff make. ``ReleasedKey`` is written by a trigger whenever a
``ContactKey`` row is deleted (a sync replacing a contact's keys), so that incremental
matching can look at the key's other holders: losing a holder can make a key specific.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

SQLITE_TRIGGER = """
    CREATE TRIGGER contacts_contactkey_released AFTER DELETE ON contacts_contactkey BEGIN
        INSERT INTO contacts_releasedkey (type, value) VALUES (old.type, old.value);
    END
"""
POSTGRES_TRIGGER = [
    """
    CREATE FUNCTION contacts_contactkey_released() RETURNS trigger AS $$
    BEGIN
        INSERT INTO contacts_releasedkey (type, value) SELECT type, value FROM released;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER contacts_contactkey_released AFTER DELETE ON contacts_contactkey
    REFERENCING OLD TABLE AS released FOR EACH STATEMENT
    EXECUTE FUNCTION contacts_contactkey_released()
    """,
]


def _trigger_create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": [SQLITE_TRIGGER], "postgresql": POSTGRES_TRIGGER}.get(vendor, [])
    for statement in statements:
        schema_editor.execute(statement)


def _trigger_drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS contacts_contactkey_released")
    elif vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS contacts_contactkey_released ON contacts_contactkey"
        )
        schema_editor.execute("DROP FUNCTION IF EXISTS contacts_contactkey_released()")


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0003_leaner_writes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ReleasedKey",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("type", models.CharField(max_length=5)),
                ("value", models.CharField(max_length=320)),
            ],
        ),
        migrations.CreateModel(
            name="MatchCorrection",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("split", "Not the same person"), ("join", "Same person")], max_length=5)),
                ("reason", models.CharField(blank=True, default="", max_length=500)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("undone_at", models.DateTimeField(blank=True, null=True)),
                ("created_by", models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("undone_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "permissions": [("correct_person", "Can split and join people")],
            },
        ),
        migrations.CreateModel(
            name="MatchCorrectionContact",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("side", models.CharField(choices=[("a", "Subject"), ("b", "Other")], max_length=1)),
                ("contact", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="corrections", to="contacts.contact")),
                ("correction", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="members", to="contacts.matchcorrection")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("correction", "contact"), name="match_correction_contact_unique")],
            },
        ),
        migrations.RunPython(_trigger_create, _trigger_drop),
    ]
