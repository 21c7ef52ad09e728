"""The records version: one row that SQLite triggers set to a new random value on every
change to which records exist, so GetContacts can resume offset paging where the last
page ended instead of counting the offset again (``sandbox.allclients.store``). Random,
not a count: a rolled-back change must not leave a version that comes back later with
other records (a count would, after a rollback and another change)."""

from django.db import migrations, models

#: An upsert, so the row comes back after a flush that emptied the table (tests do).
_BUMP = "INSERT OR REPLACE INTO sandbox_recordsversion (id, value) VALUES (1, random());"
TRIGGERS = {
    "sandbox_record_version_insert": f"AFTER INSERT ON sandbox_record BEGIN {_BUMP} END",
    "sandbox_record_version_delete": f"AFTER DELETE ON sandbox_record BEGIN {_BUMP} END",
    "sandbox_record_version_update": (
        "AFTER UPDATE OF kind, collection, remote_id, deleted ON sandbox_record "
        f"BEGIN {_BUMP} END"
    ),
}


def triggers_create(apps, schema_editor):
    apps.get_model("sandbox", "RecordsVersion").objects.using(
        schema_editor.connection.alias
    ).create(pk=1, value=0)
    if schema_editor.connection.vendor != "sqlite":
        return  # PostgreSQL: no version (triggers on one hot row would serialize writers)
    for name, body in TRIGGERS.items():
        schema_editor.execute(f"CREATE TRIGGER {name} {body}")


def triggers_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name in TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("sandbox", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="RecordsVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("value", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(triggers_create, triggers_drop),
    ]
