"""Drop the actions' indexes that another index already serves.

Django gives each foreign key an index of its own, but ``connection``, ``contact`` and
``batch`` each lead a composite index already (``action_dispatch``, ``action_contact``,
``action_batch_state``), which answers every lookup the single-column one would (the
foreign keys' checks on delete, ``contact.actions``, a batch's actions). PostgreSQL also
had ``idempotency_key``'s ``varchar_pattern_ops`` copy, made by Django for ``LIKE``
lookups that nothing runs (the key is only looked up whole, by the unique index).

``state`` is in most of the table's indexes, so an action's every change of state is a
new row version entered in each index (not a HOT update): the four were four index
entries more per insert and per step of an act's life (queued, published, sending, done),
on a table bulk acts grow by thousands. A ``DROP INDEX`` is quick whatever the table's
size; undoing this migration builds them again.
"""

from django.db import migrations, models

#: (field, the column its index was made on): the foreign keys whose index goes.
FOREIGN_KEYS = (("connection", "connection_id"), ("contact", "contact_id"), ("batch", "batch_id"))


def _names(schema_editor) -> list[tuple[str, str]]:
    """Return (index name, CREATE INDEX statement) of each index to drop, as Django named
    and made them (its generated names hash the table and column)."""
    table = "actions_action"
    quote = schema_editor.quote_name
    made = []
    for _, column in FOREIGN_KEYS:
        name = schema_editor._create_index_name(table, [column], suffix="")
        made.append(
            (name, f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} ({quote(column)})")
        )
    if schema_editor.connection.vendor == "postgresql":
        name = schema_editor._create_index_name(table, ["idempotency_key"], suffix="_like")
        made.append(
            (
                name,
                f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} "
                f"({quote('idempotency_key')} varchar_pattern_ops)",
            )
        )
    return made


def drop(apps, schema_editor):
    for name, _ in _names(schema_editor):
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create(apps, schema_editor):
    for _, sql in _names(schema_editor):
        schema_editor.execute(sql)


def _foreign_key(field: str, **options) -> migrations.AlterField:
    return migrations.AlterField(
        model_name="action",
        name=field,
        field=models.ForeignKey(db_index=False, **options),
    )


class Migration(migrations.Migration):
    dependencies = [("actions", "0007_open_actions_index_postgresql")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                _foreign_key(
                    "connection",
                    on_delete=models.deletion.PROTECT,
                    related_name="actions",
                    to="connections.connection",
                ),
                _foreign_key(
                    "contact",
                    blank=True,
                    null=True,
                    on_delete=models.deletion.SET_NULL,
                    related_name="actions",
                    to="contacts.contact",
                ),
                _foreign_key(
                    "batch",
                    blank=True,
                    null=True,
                    on_delete=models.deletion.PROTECT,
                    related_name="actions",
                    to="actions.batch",
                ),
            ],
            database_operations=[migrations.RunPython(drop, create, elidable=False)],
        )
    ]
