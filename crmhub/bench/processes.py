"""Serve crmhub and run its Celery workers for the bench and the tests.

``served_in_thread`` serves the ASGI application (console, sandbox CRMs and the Collect!
Web Socket) from a thread of this process, on this process's databases (the tests' live
server). ``served_in_process`` serves it from a separate process, on the databases named by
the environment (the bench: the server does not share this process's interpreter, so it
does not slow what is measured here). ``Worker`` is one ``celery worker`` process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from django.conf import settings

from crmhub.core import queues

HOST = "127.0.0.1"
#: A worker serving every queue (one pool for all: the bench's and tests' default).
ALL_QUEUES = ",".join(queues.ALL)


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 free right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served_in_thread(*, start_timeout: float = 15) -> Iterator[str]:
    """Serve crmhub's ASGI application with uvicorn in a daemon thread; yield its URL."""
    import uvicorn

    from crmhub.asgi import application

    port = free_port()
    config = uvicorn.Config(
        application,
        host=HOST,
        port=port,
        log_level="warning",
        lifespan="off",
        ws="websockets-sansio",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def served_in_process(*, start_timeout: float = 60) -> Iterator[str]:
    """Serve crmhub from a separate uvicorn process until the block ends; yield its URL.

    The server reads the same database files as this process (the environment is passed
    on), so what is seeded here is what it serves.
    """
    port = free_port()
    url = f"http://{HOST}:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "crmhub.asgi:application", "--host", HOST,
         "--port", str(port), "--log-level", "warning", "--no-access-log", "--lifespan", "off"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "CRMHUB_PUBLIC_URL": url, "CRMHUB_SANDBOX_URL": url,
             "CRMHUB_WEB_ROLE": "all"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the crmhub server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def worker_command(
    *,
    name: str,
    app: str = "crmhub",
    queues: str = ALL_QUEUES,
    pool: str = "prefork",
    concurrency: int = 2,
    beat_schedule: Path | None = None,
) -> list[str]:
    """Return the command line of one ``celery worker`` (with beat given its schedule)."""
    command = [
        sys.executable, "-m", "celery", "-A", app, "worker", "-Q", queues, "-P", pool,
        "-c", str(concurrency), "-n", f"{name}@%h",
        "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "INFO",
    ]  # fmt: skip
    if beat_schedule is not None:
        command += ["-B", "-s", str(beat_schedule)]
    return command


class Worker:
    """One ``celery worker`` process leading its own session (its pool children, and beat
    when asked, are in its process group), logging to ``<workdir>/<name>.log``."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        *,
        app: str = "crmhub",
        queues: str = ALL_QUEUES,
        pool: str = "prefork",
        concurrency: int = 2,
        beat: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        command = worker_command(
            name=name,
            app=app,
            queues=queues,
            pool=pool,
            concurrency=concurrency,
            beat_schedule=workdir / f"{name}-beat-schedule" if beat else None,
        )
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=dict(os.environ if env is None else env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        """The worker's process id, also the id of its process group."""
        return self.process.pid

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 40.0) -> Worker:
        """Return once the worker logged " ready."; raise if it died or took too long."""
        deadline = time.monotonic() + timeout
        while " ready." not in self.text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {self.name} did not start:\n{self.text()[-3000:]}")
            time.sleep(0.1)
        return self

    def alive(self) -> bool:
        return self.process.poll() is None

    def terminate(self, timeout: float = 20.0) -> None:
        """Warm shutdown (SIGTERM: running tasks finish), then SIGKILL the process group."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        self.kill()

    def kill(self) -> None:
        """SIGKILL this worker's process group (its pool children and beat too)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()
