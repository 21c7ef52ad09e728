from django.db import migrations, models
from django.db.models import Count


def count(apps, schema_editor):
    """Fill the new figure from the index as it is (later syncs keep it current)."""
    Connection = apps.get_model("connections", "Connection")
    Contact = apps.get_model("contacts", "Contact")
    rows = (
        Contact.objects.filter(deleted_at__isnull=True)
        .order_by()
        .values_list("connection_id")
        .annotate(n=Count("id"))
    )
    for connection_id, live in rows:
        Connection.objects.filter(pk=connection_id).update(contacts_live=live)


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0001_initial"),
        ("contacts", "0003_leaner_writes"),
    ]

    operations = [
        migrations.AddField(
            model_name="connection",
            name="contacts_live",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(count, migrations.RunPython.noop),
    ]
