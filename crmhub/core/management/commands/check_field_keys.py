from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from crmhub.connections.selectors import connections_with_unreadable_secrets


class Command(BaseCommand):
    help = (
        "List the connections whose stored credentials cannot be decrypted with the current "
        "CRMHUB_FIELD_KEYS (exit status 1 when there is any). Type their credentials again "
        "on each connection's admin page, or restore the key they were encrypted with."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        lost = connections_with_unreadable_secrets()
        for connection in lost:
            self.stdout.write(
                f"{connection.pk}\t{connection.name}\t{connection.kind_label}\t"
                "credentials cannot be decrypted"
            )
        if lost:
            raise CommandError(
                f"{len(lost)} connection(s) have credentials that the current keys cannot decrypt.",
                returncode=1,
            )
        self.stdout.write("Every stored credential decrypts with the current keys.")
