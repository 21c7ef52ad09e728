from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from crmhub.sandbox import faults
from crmhub.sandbox.registry import KINDS


class Command(BaseCommand):
    help = (
        "Inject faults into a simulated CRM (latency, 5xx, 429, hangs, bad bodies); --reset clears."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("--reset", action="store_true", help="Back to a healthy server.")
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--error-rate", type=float, default=0.0)
        parser.add_argument("--error-status", type=int, default=503)
        parser.add_argument("--rate-limit-rate", type=float, default=0.0)
        parser.add_argument("--retry-after", type=int, default=1)
        parser.add_argument("--timeout-rate", type=float, default=0.0)
        parser.add_argument("--timeout-after-apply", action="store_true")
        parser.add_argument("--hang-seconds", type=float, default=40.0)
        parser.add_argument("--malformed-rate", type=float, default=0.0)
        parser.add_argument("--xml-attack", choices=["", "entity", "billion_laughs"], default="")
        parser.add_argument("--fail-next", type=int, default=0)
        parser.add_argument(
            "--xml-indent",
            action="store_true",
            help="AllClients answers indented XML (the vendor's is compact).",
        )
        parser.add_argument(
            "--hide-undocumented",
            action="store_true",
            help="Operations no vendor document describes answer that they do not exist.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kind = options["kind"]
        if options["reset"]:
            faults.reset(kind)
            self.stdout.write(f"{kind}: healthy")
            return
        names = [
            "latency_ms",
            "error_rate",
            "error_status",
            "rate_limit_rate",
            "retry_after",
            "timeout_rate",
            "timeout_after_apply",
            "hang_seconds",
            "malformed_rate",
            "xml_attack",
            "fail_next",
            "xml_indent",
            "hide_undocumented",
        ]
        fault = faults.configure(kind, **{name: options[name] for name in names})
        self.stdout.write(f"{kind}: " + ", ".join(f"{n}={getattr(fault, n)}" for n in names))
