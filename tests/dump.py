"""Read everything the product stored, to prove a secret is nowhere in it."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import connections


def database_dump(*, exclude: tuple[str, ...] = ()) -> str:
    """Return every row of every table of every database, as text (tables ``exclude``d)."""
    chunks: list[str] = []
    for alias in connections:
        connection = connections[alias]
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names(cursor):
                if table.startswith(exclude):
                    continue
                cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
                chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def broker_dump() -> str:
    """Return the content of every message file of the embedded broker (if it is in use),
    in its folders and their queues' folders."""
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    chunks = []
    for key in ("data_folder_in", "processed_folder", "control_folder"):
        folder = options.get(key)
        if folder and Path(str(folder)).is_dir():
            chunks.extend(
                p.read_text(errors="replace") for p in Path(str(folder)).rglob("*") if p.is_file()
            )
    return "\n".join(chunks)
