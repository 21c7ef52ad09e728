"""The lock that lets one matching run at a time, across processes, between transactions.

A full matching reads the whole index and writes its people in many short transactions
(never holding SQLite's write lock for seconds), so the database transaction cannot be
what keeps two matchings apart: they hold this lock instead, for their whole run. On
PostgreSQL it is a session advisory lock; on SQLite (one machine) an exclusive ``flock``
on a file next to the database.
"""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection as db

#: The advisory lock's key on PostgreSQL (any fixed number; this one spells "match").
ADVISORY_KEY = 0x6D61746368
_POLL_SECONDS = 0.05
_in_memory = threading.Lock()


def _lock_file() -> Path | None:
    """Return the lock file of the SQLite database (None for one in memory)."""
    name = str(db.settings_dict["NAME"])
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(f"{name}-matching.lock")


def _wait_for(take: Callable[[], bool], timeout: float | None) -> bool:
    """Call ``take()`` until it returns True or ``timeout`` seconds have passed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if take():
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)


@contextmanager
def matching_lock(*, timeout: float | None = None) -> Iterator[bool]:
    """Hold the matching lock; yield whether it was taken (within ``timeout`` seconds, or
    waiting as long as it takes when None)."""
    if db.vendor == "postgresql":
        with db.cursor() as cursor:

            def take_advisory() -> bool:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_KEY])
                return bool(cursor.fetchone()[0])

            taken = _wait_for(take_advisory, timeout)
        try:
            yield taken
        finally:
            if taken:
                with db.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_KEY])
        return
    path = _lock_file()
    if path is None:
        taken = _in_memory.acquire(timeout=-1 if timeout is None else timeout)
        try:
            yield taken
        finally:
            if taken:
                _in_memory.release()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:

        def take_file() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        taken = _wait_for(take_file, timeout)
        try:
            yield taken
        finally:
            if taken:
                fcntl.flock(handle, fcntl.LOCK_UN)
