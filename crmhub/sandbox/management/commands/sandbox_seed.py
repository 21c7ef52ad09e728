from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crmhub.sandbox.registry import KINDS
from crmhub.sandbox.services import sandbox_seed


class Command(BaseCommand):
    help = "Seed the simulated CRMs with deterministic demo people (bulk inserts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--people", type=int, default=500, help="People per CRM (max 1,000,000)."
        )
        parser.add_argument(
            "--kind", action="append", choices=KINDS, help="Only this CRM (repeatable)."
        )
        parser.add_argument("--reset", action="store_true", help="Replace what is there.")
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args: Any, **options: Any) -> None:
        people = options["people"]
        if not 0 < people <= 1_000_000:
            raise CommandError("--people must be between 1 and 1,000,000.")
        kinds = tuple(options["kind"] or KINDS)
        result = sandbox_seed(
            people=people, kinds=kinds, batch_size=options["batch_size"], reset=options["reset"]
        )
        for kind, (count, seconds) in result.items():
            if count:
                self.stdout.write(f"{kind}: {count} records in {seconds:.1f} s")
            else:
                self.stdout.write(f"{kind}: already seeded (use --reset to replace)")
