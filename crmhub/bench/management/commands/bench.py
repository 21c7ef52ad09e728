"""``manage.py bench``: measure crmhub on data it creates, beside what a user would have.

Each section runs in a child process of this command whose ``DATABASE_URL`` and
``SANDBOX_DATABASE_URL`` point to fresh SQLite files under ``--workdir`` (``var/bench/``
by default), so a bench never touches the real databases and every section starts from
nothing. With ``--stack postgres`` each section gets instead a fresh PostgreSQL database
(created on ``--database-url``'s server, dropped after) and the Redis broker
``--broker-url`` (emptied before and after); the sandbox CRMs stay on SQLite.
The figures come back as one table: metric, value, unit, baseline, ratio, target.
"""

from __future__ import annotations

import argparse
import contextlib
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
from django.db import connection

from crmhub.bench.base import BenchContext, Row, table
from crmhub.bench.load.stack import postgres_database, redis_claimed, server_settings
from crmhub.bench.sections import SECTIONS

#: The scale-out stack's servers when neither the options nor the environment name them.
DEFAULT_DATABASE = "postgres://crmhub:crmhub@127.0.0.1:5432/postgres"
DEFAULT_BROKER = "redis://127.0.0.1:6379/14"
STACKS = ("embedded", "postgres")


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
        parser.add_argument(
            "--stack",
            choices=STACKS,
            help="embedded (SQLite and the filesystem broker, the default) or postgres "
            "(PostgreSQL and Redis); also --option stack=postgres.",
        )
        parser.add_argument(
            "--database-url",
            help="PostgreSQL server for --stack postgres (the role needs CREATEDB); default "
            f"$BENCH_DATABASE_URL or {DEFAULT_DATABASE}.",
        )
        parser.add_argument(
            "--broker-url",
            help="Redis database for --stack postgres (emptied before and after each "
            f"section); default $BENCH_BROKER_URL or {DEFAULT_BROKER}.",
        )
        parser.add_argument("--child", help=argparse.SUPPRESS)
        parser.add_argument("--rows-file", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        extra = dict(item.split("=", 1) for item in options["option"] if "=" in item)
        if options["child"]:
            self._child(options["child"], options, extra)
            return
        self._stack(options, extra)
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

    @staticmethod
    def _stack(options: dict[str, Any], extra: dict[str, str]) -> None:
        """Settle the stack from ``--stack`` or ``--option stack=``, with its servers, and
        pass them on as options too (the load section starts its own stack from them)."""
        stack = options["stack"] or extra.get("stack") or extra.get("load_stack") or "embedded"
        if stack not in STACKS:
            raise CommandError(f"--stack must be one of {STACKS}, not {stack!r}.")
        options["stack"] = extra["stack"] = stack
        if stack == "postgres":
            options["database_url"] = extra["database_url"] = (
                options["database_url"]
                or extra.get("database_url")
                or os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE)
            )
            options["broker_url"] = extra["broker_url"] = (
                options["broker_url"]
                or extra.get("broker_url")
                or os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER)
            )

    @contextlib.contextmanager
    def _backing(self, name: str, workdir: Path, options: dict[str, Any]) -> Any:
        """Yield the environment of section ``name``'s databases and broker."""
        env = {
            "DATABASE_URL": f"sqlite:///{(workdir / 'crmhub.sqlite3').resolve()}",
            "SANDBOX_DATABASE_URL": f"sqlite:///{(workdir / 'sandbox.sqlite3').resolve()}",
            "CRMHUB_BROKER_DIR": str((workdir / "broker").resolve()),
        }
        if options["stack"] != "postgres" or name == "load":  # load starts its own stack
            yield env
            return
        broker = options["broker_url"]
        database = f"crmhub_bench_{name}_{os.getpid()}"
        with redis_claimed(broker), postgres_database(options["database_url"], database) as url:
            yield {**env, "DATABASE_URL": url, "CELERY_BROKER_URL": broker}

    def _section(
        self, name: str, workdir: Path, options: dict[str, Any], extra: dict[str, str]
    ) -> list[Row]:
        """Run section ``name`` in a child process with its own databases; return its rows."""
        workdir.mkdir(parents=True, exist_ok=True)
        with self._backing(name, workdir, options) as backing:
            return self._run_child(name, workdir, options, extra, {**os.environ, **backing})

    def _run_child(
        self,
        name: str,
        workdir: Path,
        options: dict[str, Any],
        extra: dict[str, str],
        env: dict[str, str],
    ) -> list[Row]:
        rows_file = workdir / "rows.json"
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
        if extra.get("stack") == "postgres" and name != "load":
            with connection.cursor() as cursor:
                engine = f"postgresql + redis; {server_settings(cursor)}"
            rows.insert(0, Row(name, f"stack: {engine}", 1.0, "", target=""))
        Path(options["rows_file"]).write_text(json.dumps([asdict(row) for row in rows]))
