"""Start and stop the product's processes (web, workers, beat) like ``scripts/run`` does."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from django.conf import settings

DROP = ("PYTEST_VERSION", "CRMHUB_BROKER_DIR", "DJANGO_SETTINGS_MODULE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """The product as separate processes in their own data folder."""

    def __init__(
        self,
        workdir: Path,
        *,
        workers: int = 1,
        concurrency: int = 2,
        database_url: str | None = None,
        broker_url: str | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.concurrency = concurrency
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in DROP}
        env.update(
            {
                "CRMHUB_VAR_DIR": str(workdir),
                "CRMHUB_PUBLIC_URL": self.url,
                "CRMHUB_SWEEP_SECONDS": "2",
                "CRMHUB_DISPATCH_SECONDS": "5",
                "CRMHUB_ACTION_LEASE_SECONDS": "30",
                "CRMHUB_ACTION_REPUBLISH_SECONDS": "5",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.pop("DATABASE_URL", None)
        env.pop("CELERY_BROKER_URL", None)
        if database_url:
            env["DATABASE_URL"] = database_url
        if broker_url:
            env["CELERY_BROKER_URL"] = broker_url
        self.env = env
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.kills = 0

    # -- commands ----------------------------------------------------------------------------
    def manage(self, *args: str, timeout: float = 600) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def query(self, code: str) -> Any:
        """Run ``code`` in ``manage.py shell`` (it must ``print(json.dumps(...))`` last)."""
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])

    # -- processes ---------------------------------------------------------------------------
    def _start(self, name: str, argv: list[str]) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            argv,
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _worker_argv(self, index: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "crmhub",
            "worker",
            "-Q",
            "actions,sync",
            "--concurrency",
            str(self.concurrency),
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "-n",
            f"load{index}@%h",
        ]

    def start(self) -> None:
        self._start(
            "web",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "crmhub.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--ws",
                "websockets-sansio",
                "--no-access-log",
            ],
        )
        for index in range(self.workers):
            self._start(f"worker{index}", self._worker_argv(index))
        self._start(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "crmhub",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.workdir / "celerybeat-schedule"),
            ],
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/login/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.3)
        raise RuntimeError("the web server did not start; see " + str(self.logs / "web.log"))

    def kill_worker(self, index: int = 0) -> None:
        """``kill -9`` worker ``index`` (its whole process group) and start it again."""
        process = self.processes[f"worker{index}"]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        self.kills += 1
        self._start(f"worker{index}", self._worker_argv(index))

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs.glob("*.log"))
