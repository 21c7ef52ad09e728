"""Start and stop the product's processes (web, sandbox, workers, beat) like ``scripts/run``.

The stack runs in its own data folder (``CRMHUB_VAR_DIR``): its own secrets, SQLite files
and embedded broker folder by default, or the PostgreSQL database and Redis broker given.
Nothing of the calling process (a bench child, a pytest run) leaks into it: the variables
that point at the caller's databases, broker or test mode are dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from django.core.management.base import CommandError

from crmhub.bench.load.cpu import children_cpu_seconds, tree_cpu_seconds
from crmhub.bench.processes import free_port, worker_command
from crmhub.core import queues

#: The caller's test mode, databases, broker and fault hooks: never the stack's.
DROP = (
    "PYTEST_VERSION",
    "PYTEST_CURRENT_TEST",
    "DJANGO_SETTINGS_MODULE",
    "CRMHUB_BROKER_DIR",
    "CRMHUB_FAULT",
    "DATABASE_URL",
    "SANDBOX_DATABASE_URL",
    "CELERY_BROKER_URL",
)

#: Timings of the stack: the run command's, with a sweep, lease and republish delay short
#: enough that a killed worker's actions are resolved within a bounded run (the defaults
#: would leave them "sending" for 330 s).
TIMINGS = {
    "CRMHUB_SWEEP_SECONDS": "2",
    "CRMHUB_DISPATCH_SECONDS": "5",
    "CRMHUB_ACTION_LEASE_SECONDS": "30",
    "CRMHUB_ACTION_REPUBLISH_SECONDS": "5",
}


#: Lines of a traceback before its last (the exception): frames, and chained tracebacks.
NOT_THE_EXCEPTION = (" ", "\t", "During handling", "The above exception")


# -- PostgreSQL and Redis of a load run ------------------------------------------------------
def with_database(url: str, name: str) -> str:
    """Return ``url`` with its database name replaced by ``name``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def with_redis_db(url: str, number: int) -> str:
    """Return the Redis ``url`` with its database number replaced by ``number``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{number}", parts.query, parts.fragment))


def _pg_admin(url: str) -> Any:
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "",
        password=parts.password or "",
        dbname="postgres",
        autocommit=True,
        connect_timeout=10,
    )


#: The PostgreSQL settings the figures at a million contacts depend on (README, "Scaling
#: out"): the shared page cache, and the write-ahead log's room before a checkpoint.
SERVER_SETTINGS = ("shared_buffers", "max_wal_size")


def server_settings(cursor: Any) -> str:
    """Return ``SERVER_SETTINGS`` as the server reads them ("max_wal_size 8GB, shared_buffers
    2GB"), through a DB-API ``cursor`` on it, for the rows of a PostgreSQL run."""
    cursor.execute(
        "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
        [list(SERVER_SETTINGS)],
    )
    return ", ".join(f"{name} {value}" for name, value in cursor.fetchall())


def server_settings_of(server_url: str) -> str:
    """Return ``server_settings`` of ``server_url``'s server."""
    with _pg_admin(server_url) as admin:
        return server_settings(admin.cursor())


@contextlib.contextmanager
def postgres_database(server_url: str, name: str) -> Iterator[str]:
    """Create database ``name`` on ``server_url``'s server (dropped first if left over, and
    after the block); yield its URL. The role needs CREATEDB."""
    from psycopg import sql

    with _pg_admin(server_url) as admin:
        _drop(admin, name)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(server_url, name)
    finally:
        with _pg_admin(server_url) as admin:
            _drop(admin, name)


def _drop(admin: Any, name: str) -> None:
    """Drop database ``name`` if it exists, ending the sessions of this role left in it.

    Not ``WITH (FORCE)``: that refuses to end an autovacuum worker busy in the database
    unless the role may signal any backend; a plain drop has the server stop autovacuum
    itself (waiting up to 5 s), so it is tried a few times.
    """
    import psycopg
    from psycopg import sql

    for tries_left in reversed(range(10)):
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND usename = current_user AND pid <> pg_backend_pid()",
            [name],
        )
        try:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            return
        except psycopg.errors.ObjectInUse:
            if not tries_left:
                raise
            time.sleep(0.5)


#: The key naming the bench that has a Redis database to itself, and how long it holds it
#: (a bench that was killed frees the database after this long, or once the key is deleted).
REDIS_OWNER_KEY = "crmhub:bench:owner"
REDIS_OWNER_SECONDS = 4 * 3600


class RedisInUse(CommandError):
    """Another bench is using the Redis database: each empties it and takes its messages."""


@contextlib.contextmanager
def redis_claimed(url: str) -> Iterator[None]:
    """Have the Redis database of ``url`` to this process alone for the block: refuse it
    while another bench holds it, empty it before and after.

    Two benches on one database would empty it under each other and their workers would
    take each other's messages (seen: stalls and actions left unfinished).
    """
    import redis

    client = redis.Redis.from_url(url)
    me = f"{os.uname().nodename}:{os.getpid()}"
    try:
        if not client.set(REDIS_OWNER_KEY, me, nx=True, ex=REDIS_OWNER_SECONDS):
            owner = client.get(REDIS_OWNER_KEY) or b"?"
            named = owner.decode() if isinstance(owner, bytes) else str(owner)
            raise RedisInUse(
                f"another bench ({named}) is using the Redis database "
                f"{redis_location(url)}: give --broker-url another database number, or delete "
                f"the key {REDIS_OWNER_KEY} there if that bench is gone"
            )
        client.flushdb()
        client.set(REDIS_OWNER_KEY, me, ex=REDIS_OWNER_SECONDS)
        try:
            yield
        finally:
            client.flushdb()
    finally:
        client.close()


def redis_location(url: str) -> str:
    """Return ``host:port/db`` of a Redis URL (never its password)."""
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}{parts.path or '/0'}"


# -- the processes ---------------------------------------------------------------------------
class Stack:
    """The product as separate processes in their own data folder."""

    def __init__(
        self,
        workdir: Path,
        *,
        workers: int = 1,
        concurrency: int = 2,
        web_processes: int = 2,
        database_url: str | None = None,
        broker_url: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = workdir.resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sandbox_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.web_processes = web_processes
        self.workers = workers
        self.concurrency = concurrency
        self.logs = self.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        stack_env = {k: v for k, v in os.environ.items() if k not in DROP}
        stack_env.update(TIMINGS)
        stack_env.update(
            {
                "CRMHUB_VAR_DIR": str(self.workdir),
                "CRMHUB_PUBLIC_URL": self.url,
                "CRMHUB_SANDBOX_URL": self.sandbox_url,
                "DATABASE_URL": database_url or f"sqlite:///{self.workdir / 'crmhub.sqlite3'}",
                # The sandbox CRMs stand in for the remote systems: SQLite on either stack.
                "SANDBOX_DATABASE_URL": f"sqlite:///{self.workdir / 'sandbox.sqlite3'}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if broker_url:
            stack_env["CELERY_BROKER_URL"] = broker_url
        stack_env.update(env or {})
        self.env = stack_env
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.kills: list[tuple[float, str]] = []
        #: CPU seconds of processes that were killed and started again (by name), and of the
        #: ``manage.py`` commands the bench ran (its queries).
        self.cpu_ended: dict[str, float] = {}
        self.cpu_queries = 0.0

    # -- commands ----------------------------------------------------------------------------
    def manage(self, *args: str, timeout: float = 900) -> str:
        # Without the start-up checks: the stack's short lease (TIMINGS), fit for a bounded
        # run of short acts, is shorter than the task time limit, which they refuse (shell
        # runs none).
        skip = [] if args[0] == "shell" else ["--skip-checks"]
        cpu = children_cpu_seconds()
        result = subprocess.run(
            [sys.executable, "manage.py", *args, *skip],
            cwd=settings.BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.cpu_queries += children_cpu_seconds() - cpu
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def query(self, code: str, *, timeout: float = 900) -> Any:
        """Run ``code`` in ``manage.py shell`` (it must ``print(json.dumps(...))`` last)."""
        output = self.manage("shell", "-c", code, timeout=timeout)
        return json.loads(output.strip().splitlines()[-1])

    # -- processes ---------------------------------------------------------------------------
    def _start(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                argv,
                cwd=settings.BASE_DIR,
                env={**self.env, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _worker_argv(self, index: int) -> list[str]:
        return worker_command(
            name=f"load{index}", queues=",".join(queues.ALL), concurrency=self.concurrency
        )

    def _web_argv(self, port: int, *more: str) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", "crmhub.asgi:application",
            "--host", "127.0.0.1", "--port", str(port),
            "--ws", "websockets-sansio", "--no-access-log", *more,
        ]  # fmt: skip

    def start(self, *, timeout: float = 120) -> None:
        """Start the console's web processes, the sandbox's, workers and beat (Procfile);
        return once both web servers answer and every worker is ready."""
        self._start(
            "web",
            self._web_argv(self.port, "--workers", str(self.web_processes)),
            {"CRMHUB_WEB_ROLE": "console"},
        )
        self._start("sandbox", self._web_argv(self.sandbox_port), {"CRMHUB_WEB_ROLE": "sandbox"})
        for index in range(self.workers):
            self._start(f"worker{index}", self._worker_argv(index))
        self._start(
            "beat",
            [
                sys.executable, "-m", "celery", "-A", "crmhub", "beat", "--loglevel", "INFO",
                "--schedule", str(self.workdir / "celerybeat-schedule"),
            ],
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                web = requests.get(f"{self.url}/login/", timeout=5).status_code == 200
                requests.get(f"{self.sandbox_url}/sandbox/", timeout=5)  # any answer will do
            except requests.RequestException:
                web = False
            if web and all(self.worker_ready(index) for index in range(self.workers)):
                return
            time.sleep(0.5)
        raise RuntimeError(f"the stack did not start within {timeout:.0f} s; see {self.logs}")

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")

    def exited(self) -> dict[str, int]:
        """Return the processes that ended on their own (not by ``kill_worker``): exit code."""
        return {
            name: code
            for name, process in self.processes.items()
            if (code := process.poll()) is not None
        }

    def worker_ready(self, index: int) -> bool:
        """Whether worker ``index``'s latest start has reached "ready"."""
        text = (self.logs / f"worker{index}.log").read_text(errors="replace")
        return " ready." in text.rsplit("--- started ---", 1)[-1]

    def kill_worker(self, index: int = 0) -> None:
        """``kill -9`` worker ``index`` (its whole process group) and start it again."""
        name = f"worker{index}"
        process = self.processes[name]
        spent = tree_cpu_seconds({name: process.pid})[name]
        self.cpu_ended[name] = self.cpu_ended.get(name, 0.0) + spent
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        self.kills.append((time.monotonic(), f"worker{index}"))
        with (self.logs / f"worker{index}.log").open("a") as log:
            log.write("\n--- killed with SIGKILL ---\n--- started ---\n")
        self._start(f"worker{index}", self._worker_argv(index))

    def cpu_seconds(self) -> dict[str, float]:
        """Return the CPU seconds used so far by each process (with its children, and its
        earlier lives before a ``kill_worker``) and by the bench's queries (``queries``)."""
        alive = tree_cpu_seconds({name: p.pid for name, p in self.processes.items()})
        spent = {name: alive[name] + self.cpu_ended.get(name, 0.0) for name in alive}
        return {**spent, "queries": self.cpu_queries}

    def stop(self) -> None:
        """Stop every process as Ctrl-C would (SIGTERM: a worker finishes its tasks), then
        ``kill -9`` what is left of each process group."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        # The prefork children of a warm-stopped worker are gone with it; make sure.
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def log_lines(self, needle: str) -> dict[str, int]:
        """Return, per log (web, worker0, beat...), how many lines contain ``needle``."""
        found = {}
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace")
            found[path.stem] = sum(1 for line in text.splitlines() if needle in line)
        return found

    def exceptions(self) -> dict[str, int]:
        """Return how often each exception (a traceback's last line) is in the logs."""
        found: dict[str, int] = {}
        for path in sorted(self.logs.glob("*.log")):
            in_traceback = False
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("Traceback (most recent call last)"):
                    in_traceback = True
                elif in_traceback and line and not line.startswith(NOT_THE_EXCEPTION):
                    key = f"{path.stem}: {line[:160]}"
                    found[key] = found.get(key, 0) + 1
                    in_traceback = False
        return found

    def log_tails(self, size: int = 3000) -> dict[str, str]:
        """Return the end of each process log (to show when a run fails)."""
        return {
            path.stem: path.read_text(errors="replace")[-size:]
            for path in sorted(self.logs.glob("*.log"))
        }
