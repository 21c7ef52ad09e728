from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandParser

from crmhub.connections.models import Connection, ConnectionChoice
from crmhub.connections.services import connection_save
from crmhub.core import roles


class Command(BaseCommand):
    help = (
        "Create the demo: an admin user (its generated password is printed once), the "
        "sandbox CRMs seeded with people, and one connection per CRM pointing at them. "
        "Running it again keeps what is there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--people", type=int, default=500, help="People per sandbox CRM.")
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        self._admin(options["username"])
        self._sandbox(options["people"])
        self.stdout.write(f"The console: {settings.CRMHUB_PUBLIC_URL}")

    def _sandbox(self, people: int) -> None:
        if not settings.CRMHUB_SANDBOX:
            self.stdout.write("Sandbox disabled (CRMHUB_SANDBOX=0): no demo connections.")
            return
        from crmhub.sandbox.registry import KINDS
        from crmhub.sandbox.services import (
            sandbox_base_url,
            sandbox_choices,
            sandbox_credentials,
            sandbox_seed,
        )

        for kind, (count, seconds) in sandbox_seed(people=people).items():
            if count:
                self.stdout.write(f"Sandbox {kind}: seeded {count} records in {seconds:.1f} s.")
        for kind in KINDS:
            name = f"Sandbox {kind}"
            base_url = sandbox_base_url(kind=kind, public_url=settings.CRMHUB_SANDBOX_URL)
            existing = Connection.objects.filter(name=name).first()
            if existing is not None:
                self._follow_sandbox(existing, base_url)
                continue
            kind_settings, kind_secrets = sandbox_credentials(kind=kind)
            connection = Connection(
                name=name,
                kind=kind,
                allow_private_network=True,
                base_url=base_url,
                sync_interval_minutes=5,
                rate_limit=20.0,
            )
            connection_save(connection=connection, settings=kind_settings, new_secrets=kind_secrets)
            ConnectionChoice.objects.bulk_create(
                ConnectionChoice(connection=connection, list_name=name_, value=value, note=note)
                for name_, value, note in sandbox_choices(kind=kind)
            )
            self.stdout.write(f"Connection {name!r} created.")

    def _follow_sandbox(self, connection: Connection, base_url: str) -> None:
        """Point a demo connection made when the console served the sandbox itself (at
        ``CRMHUB_PUBLIC_URL``) at the sandbox's own process; leave any other address alone."""
        from crmhub.sandbox.services import sandbox_base_url, sandbox_credentials

        kind = connection.kind
        in_console = sandbox_base_url(kind=kind, public_url=settings.CRMHUB_PUBLIC_URL)
        if connection.base_url != in_console or in_console == base_url:
            return
        connection.base_url = base_url  # another port: the stored credentials are dropped
        kind_settings, kind_secrets = sandbox_credentials(kind=kind)
        connection_save(connection=connection, settings=kind_settings, new_secrets=kind_secrets)
        self.stdout.write(f"Connection {connection.name!r} now reaches the sandbox at {base_url}.")

    def _admin(self, username: str) -> None:
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"User {username!r} exists (password unchanged).")
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username, f"{username}@example.com", password)
        user.groups.add(Group.objects.get(name=roles.ADMIN))
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Admin login: {username} / {password}\n"
                "  (shown once; change it in the admin)\n"
            )
        )
