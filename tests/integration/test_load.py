"""Load with faults, short form (issue 7 point 7; R16/R18 of the reliability notes).

The run command's stack (web, worker(s), beat as separate processes) on the stack this
test run is configured for: SQLite + the filesystem broker with one worker by default;
PostgreSQL + Redis with two workers when ``DATABASE_URL`` / ``CELERY_BROKER_URL`` say so
(a database created for the run on the same server and dropped after it, Redis database
13). 20 users browse and search for 40 s over an index of the sandbox CRMs' 200 people each
and 2,000 archived contacts, while a bulk act over the 200 AllClients contacts (paced to
last most of the run) and two full syncs run, and a worker is ``kill -9``-ed half-way.
The long form is ``manage.py bench --section load``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crmhub.bench.load.run import FINAL, SYNC_FINAL, load_run
from crmhub.bench.load.stack import with_redis_db

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PEOPLE = 200
ARCHIVE = 2000
SECONDS = 40
REDIS_DB = 13


def _configured_stack() -> dict[str, object]:
    """Return ``load_run``'s stack arguments for the stack the test run is configured for."""
    database = os.environ.get("DATABASE_URL", "")
    if not database.startswith(("postgres://", "postgresql://", "pgsql://")):
        return {"stack": "embedded", "workers": 1}
    broker = os.environ.get("CELERY_BROKER_URL", "").strip()
    return {
        "stack": "postgres",
        "workers": 2,
        "database_url": database,
        "broker_url": with_redis_db(broker, REDIS_DB) if broker.startswith("redis") else None,
    }


def test_load_with_worker_kill(tmp_path: Path) -> None:
    result = load_run(
        workdir=tmp_path / "stack",
        duration=SECONDS,
        users=20,
        people=PEOPLE,
        contacts=4 * PEOPLE + ARCHIVE,
        kill_every=SECONDS,  # one kill -9, half-way
        rate_limit=PEOPLE / (SECONDS * 0.75),  # the bulk act spans most of the load
        settle=90,
        # A worker killed mid-send leaves its action "sending" until the lease ends: short,
        # so the run stays well under two minutes (the stack's default is 30 s).
        env={"CRMHUB_ACTION_LEASE_SECONDS": "10"},
        **_configured_stack(),  # type: ignore[arg-type]
    )

    # The load happened, and the kill came while the bulk act was under way.
    assert result.requests >= 20 * 10, "the users hardly got any page"
    assert result.kills == 1
    assert result.open_at_kills and result.open_at_kills[0] > 0, "nothing was running at the kill"
    assert result.bulk_size == PEOPLE  # the sandbox's contacts, none of the archive's
    assert (result.index_contacts, result.archive_contacts) == (4 * PEOPLE + ARCHIVE, ARCHIVE)
    assert result.exited == {}, "a process of the stack died on its own (see its log)"
    # Where the CPU went: every process of the stack, the users and the bench's queries.
    workers = {f"worker{index}" for index in range(result.workers)}  # 2 on PostgreSQL
    assert set(result.cpu) == {"web", "sandbox", "beat", "users", "queries"} | workers
    assert all(result.cpu[name] > 1 for name in ("web", "sandbox", "worker0", "users"))

    # No "database is locked" (or any other error) reached a user or a task.
    assert result.errors == {}, f"users saw errors: {result.errors}"
    assert result.locked_users == 0
    assert result.locked_logs == {}, "'database is locked' in the logs of the processes"
    assert result.locked_stored == {}, "'database is locked' stored on actions or syncs"

    # Every action of the bulk act ended, in a state the sandbox ledger agrees with.
    assert result.lost == 0, f"actions not final: {result.states}"
    assert set(result.states) <= set(FINAL)
    assert result.untruthful == []
    assert result.duplicates == 0
    # A healthy sandbox: only an action a kill -9 caught mid-send may end otherwise (unknown).
    assert result.states.get("failed", 0) + result.states.get("cancelled", 0) == 0, result.failures
    # The syncs requested during the load ended too.
    assert len(result.syncs) == 2
    assert all(sync["state"] in SYNC_FINAL for sync in result.syncs), result.syncs
