from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from crmhub.connections.models import Connection
from crmhub.core import crypto


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored credential with the newest key of CRMHUB_FIELD_KEYS. "
        "Rotate by putting a new key first, running this, then removing the old key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = 0
        ids = list(Connection.objects.exclude(secrets_ciphertext="").values_list("pk", flat=True))
        size = options["batch_size"]
        for start in range(0, len(ids), size):
            with transaction.atomic():
                for connection in Connection.objects.select_for_update().filter(
                    pk__in=ids[start : start + size]
                ):
                    try:
                        token = crypto.rotate(connection.secrets_ciphertext)
                    except crypto.DecryptionError as exc:
                        raise CommandError(f"Connection {connection.pk}: {exc}") from exc
                    Connection.objects.filter(pk=connection.pk).update(secrets_ciphertext=token)
                    rotated += 1
        self.stdout.write(f"Re-encrypted the credentials of {rotated} connection(s).")
