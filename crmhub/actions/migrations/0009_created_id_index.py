"""The actions' newest-first index holds the lists' whole order: ``created_at``, then ``id``.

Every list of actions is ordered by ``-created_at, -id`` (``Action.Meta.ordering``). A bulk
act inserts its thousands of actions with one ``created_at``, so an index of that column
alone gave PostgreSQL a group of 2,000 rows to read, join (connection, contact, user) and
sort for the first 50: 11,780 buffers and ~60 ms a call of the actions page under the load
bench; SQLite sorted them in a temporary b-tree. With ``id`` in the index both walk it
backwards and stop at the 50th row. The new index is built before the old one goes, so no
list is without one meanwhile.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("actions", "0008_drop_redundant_indexes")]

    operations = [
        migrations.AddIndex(
            model_name="action",
            index=models.Index(fields=["created_at", "id"], name="action_created_id"),
        ),
        migrations.RemoveIndex(model_name="action", name="action_created"),
    ]
