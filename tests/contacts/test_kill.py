"""A sync worker killed with kill -9 mid-way: no duplicate, and the next run completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection as db
from django.utils import timezone

from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.services import sync_request
from crmhub.contacts.sync import runs
from crmhub.contacts.sync.lease import lease_length
from crmhub.contacts.sync.schedule import runs_reap
from tests.conftest import wait_for
from tests.contacts.helpers import index_of, sync
from tests.contacts.sync_worker import contacts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
COUNT = 6000


def _database_url() -> str:
    conf = db.settings_dict
    if db.vendor == "sqlite":
        return f"sqlite:///{Path(conf['NAME']).resolve()}"
    return (
        f"postgres://{conf['USER']}:{conf['PASSWORD']}@{conf['HOST'] or '127.0.0.1'}:"
        f"{conf['PORT'] or 5432}/{conf['NAME']}"
    )


def test_kill_9_mid_sync_then_the_next_run_completes(make_connection, fake_crms, monkeypatch):
    monkeypatch.setattr(runs, "run_publish", lambda run_id: None)
    connection = make_connection("allclients", name="killed")
    run = sync_request(connection=connection)
    env = {**os.environ, "DATABASE_URL": _database_url()}
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.contacts.sync_worker", str(run.pk), str(COUNT)],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(
            lambda: SyncRun.objects.get(pk=run.pk).pages >= 3 or worker.poll() is not None,
            timeout=60,
        )
        assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.stderr.close()

    run.refresh_from_db()
    assert run.state == SyncRun.State.RUNNING  # nobody told it: its lease tells
    written = Contact.objects.filter(connection=connection).count()
    assert 0 < written < COUNT and written == run.created

    assert sync_request(connection=connection).pk == run.pk  # still holds the connection
    runs_reap(now=timezone.now() + lease_length() + timedelta(seconds=1))
    run.refresh_from_db()
    assert run.state == SyncRun.State.FAILED

    fake_crms["allclients"].contacts = contacts(COUNT)
    resumed = sync(connection, mode="full")
    assert resumed.state == SyncRun.State.SUCCEEDED, resumed.error
    assert (resumed.created, resumed.unchanged) == (COUNT - written, written)
    assert Contact.objects.filter(connection=connection).count() == COUNT

    clean = make_connection("allclients", name="clean")
    sync(clean, mode="full")
    assert index_of(connection) == index_of(clean)
