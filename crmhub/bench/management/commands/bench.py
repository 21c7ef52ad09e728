"""``manage.py bench``: measure crmhub on data it creates, beside what a user would have.

Each section runs in a child process of this command whose ``DATABASE_URL`` and
``SANDBOX_DATABASE_URL`` point to fresh SQLite files under ``--workdir`` (``var/bench/``
by default), so a bench never touches the real databases and every section starts from
nothing. The figures come back as one table: metric, value, unit, baseline, ratio, target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from crmhub.bench.base import BenchContext, Row, table
from crmhub.bench.sections import SECTIONS


class Command(BaseCommand):
    help = (
        "Benchmark crmhub on data it creates in separate database files and print one "
        "table of figures beside their baselines. The default size finishes in a few "
        "minutes; --contacts 1000000 runs the full size."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--contacts", type=int, default=100_000)
        parser.add_argument(
            "--section",
            action="append",
            default=[],
            help="Section to run (repeat for several); all registered ones by default.",
        )
        parser.add_argument("--workdir", default=str(settings.VAR_DIR / "bench"))
        parser.add_argument("--keep", action="store_true", help="Keep the database files.")
        parser.add_argument(
            "--option",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="A setting for a section (e.g. load_seconds=60).",
        )
        parser.add_argument("--child", help=argparse.SUPPRESS)
        parser.add_argument("--rows-file", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        extra = dict(item.split("=", 1) for item in options["option"] if "=" in item)
        if options["child"]:
            self._child(options["child"], options, extra)
            return
        names = options["section"] or list(SECTIONS)
        unknown = sorted(set(names) - set(SECTIONS))
        if unknown:
            raise CommandError(f"Unknown section(s) {unknown}; known: {sorted(SECTIONS)}.")
        # The pid too: two runs started in the same second must not share (and delete) a root.
        root = Path(options["workdir"]) / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        rows: list[Row] = []
        started = time.monotonic()
        for name in names:
            rows += self._section(name, root / name, options, extra)
        rows.append(Row("bench", "wall time", time.monotonic() - started, "s"))
        self.stdout.write("\n" + table(rows) + "\n")
        if not options["keep"]:
            shutil.rmtree(root, ignore_errors=True)

    def _section(
        self, name: str, workdir: Path, options: dict[str, Any], extra: dict[str, str]
    ) -> list[Row]:
        """Run section ``name`` in a child process with its own databases; return its rows."""
        workdir.mkdir(parents=True, exist_ok=True)
        rows_file = workdir / "rows.json"
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{(workdir / 'crmhub.sqlite3').resolve()}",
            "SANDBOX_DATABASE_URL": f"sqlite:///{(workdir / 'sandbox.sqlite3').resolve()}",
            "CRMHUB_BROKER_DIR": str((workdir / "broker").resolve()),
        }
        command = [
            sys.executable, str(settings.BASE_DIR / "manage.py"), "bench", "--child", name,
            "--contacts", str(options["contacts"]), "--workdir", str(workdir),
            "--rows-file", str(rows_file),
            *[f"--option={key}={value}" for key, value in extra.items()],
        ]  # fmt: skip
        started = time.monotonic()
        done = subprocess.run(command, env=env, cwd=settings.BASE_DIR, check=False)
        if done.returncode != 0 or not rows_file.exists():
            self.stderr.write(f"section {name} failed (exit {done.returncode}); see above.")
            return [Row(name, "FAILED (see the log above)", float(done.returncode), "exit")]
        rows = [Row(**item) for item in json.loads(rows_file.read_text())]
        self.stdout.write(f"{name}: done in {time.monotonic() - started:.0f} s")
        return rows

    def _child(self, name: str, options: dict[str, Any], extra: dict[str, str]) -> None:
        """Run one section here, on this process's (fresh) databases."""
        if name not in SECTIONS:
            raise CommandError(f"Unknown section {name!r}.")
        for database in settings.DATABASES:
            call_command("migrate", database=database, verbosity=0, interactive=False)

        def write(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        context = BenchContext(
            contacts=options["contacts"],
            workdir=Path(options["workdir"]),
            options={**options, **extra},
            write=write,
        )
        rows = SECTIONS[name](context)
        Path(options["rows_file"]).write_text(json.dumps([asdict(row) for row in rows]))
