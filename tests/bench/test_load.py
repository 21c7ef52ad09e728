"""The load section: its index (the archive no sync touches), its rows, and its users."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from crmhub.bench.load.archive import archive_connections, archive_fill, index_size
from crmhub.bench.load.cpu import machine_cpu_seconds, tree_cpu_seconds
from crmhub.bench.load.run import LoadResult
from crmhub.bench.load.section import rows
from crmhub.bench.load.stack import SERVER_SETTINGS, server_settings
from crmhub.bench.load.users import Users
from crmhub.bench.processes import free_port
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.sync.schedule import runs_dispatch


@pytest.mark.django_db
def test_the_archive_fills_the_index_and_is_never_due_for_a_sync():
    synced = Connection.objects.create(name="Sandbox allclients", kind="allclients",
                                       base_url="https://crm.example.com/")  # fmt: skip

    filled = archive_fill(contacts=400, write=lambda _: None)

    assert filled["contacts"] == 400
    archive = archive_connections()
    assert sorted(archive) == ["allclients", "apptivo", "collect", "crmcom"]
    assert all(
        c.contacts_live == 100 for c in Connection.objects.filter(name__startswith="Archive")
    )
    assert Contact.objects.filter(person__isnull=False).count() > 0  # people matched
    size = index_size()
    assert (size["contacts"], size["archive"]) == (400, 400)
    assert 0 < size["people"] < 400  # the shared people of the demo are one person each
    # The scheduler queues the connection that has never synced, never an archive.
    queued = runs_dispatch()
    assert [run.connection_id for run in queued] == [synced.pk]
    passes = SyncRun.objects.filter(connection__in=archive.values())
    assert (
        sorted(passes.values_list("state", "mode", "fetched")) == [("succeeded", "full", 100)] * 4
    )
    # Filling again (a second run on kept data) adds no connection.
    assert archive_connections() == archive


def test_the_rows_say_how_large_the_index_was():
    result = LoadResult(stack="sqlite + filesystem broker", workers=1, users=20, people=2000,
                        index_contacts=1_000_000, archive_contacts=992_000,
                        index_people=700_000, bulk_size=2000)  # fmt: skip
    by_metric = {row.metric: row for row in rows(result)}

    assert by_metric["contacts in the index (synced + archive)"].value == 1_000_000
    archived = "of them archived (written directly; no sync during the run)"
    assert by_metric[archived].value == 992_000
    assert by_metric["people in the index (contacts matched)"].value == 700_000
    assert by_metric["bulk act confirmation (page; 2000 actions)"].target == "<= 1000 ms"
    assert by_metric["page time p95"].target == "<= 200 ms"


BURN = "import time\nwhile time.process_time() < {seconds}: pass\n"
#: A parent that runs one child burning 0.3 s of CPU to its end (reaped), then starts another
#: that burns 0.3 s and stays alive, and says so.
PARENT = f"""
import subprocess, sys, time
subprocess.run([sys.executable, "-c", {BURN.format(seconds=0.3)!r}], check=True)
live = subprocess.Popen([sys.executable, "-c", {BURN.format(seconds=0.3)!r} + "time.sleep(60)"])
print("ready", flush=True)
live.wait()
"""


def test_the_cpu_of_a_process_tree_counts_its_reaped_and_live_children():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE,
                              start_new_session=True)  # fmt: skip
    try:
        assert parent.stdout is not None and parent.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + 60
        spent = 0.0
        while spent < 0.5 and time.monotonic() < deadline:  # the live child is still burning
            time.sleep(0.2)
            spent = tree_cpu_seconds({"parent": parent.pid, "gone": 0})["parent"]
        # Both children's 0.3 s: /proc counts whole clock ticks and truncates each process's
        # user and system times apart, so 0.6 s of CPU can read 0.59 s or a little less. One
        # child alone (the reaped or the live one missed) would stay near 0.3 s.
        assert 0.5 <= spent < 5
        assert tree_cpu_seconds({"gone": 0}) == {"gone": 0.0}
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()


def test_the_rows_say_where_the_cpu_went():
    result = LoadResult(stack="sqlite + filesystem broker", workers=1, users=20, people=2000,
                        seconds=100, cpu={"web": 80, "worker0": 30, "users": 10},
                        machine_cpu=150, load_average=(1.5, 2.5))  # fmt: skip
    by_metric = {row.metric: row for row in rows(result)}

    assert by_metric["CPU of web during the load (80% of one core)"].value == 80
    assert by_metric["CPU of worker0 during the load (30% of one core)"].value == 30
    assert by_metric["CPU of the bench's users (its threads) during the load (10% of one core)"]
    assert by_metric["machine load average (1 min) at the end of the load"].value == 2.5
    assert by_metric["CPU of the whole machine during the load (150% of one core)"].value == 150
    elsewhere = "  of which elsewhere: the database server's, other work's (30% of one core)"
    assert by_metric[elsewhere].value == 30
    assert "web 80 s (80%), worker0 30 s (30%), users 10 s (10%); total 120 s" in (result.summary())
    assert "the machine 150 s (150%), of which elsewhere 30 s (30%" in result.summary()


def test_the_machine_cpu_counts_a_process_it_does_not_know():
    before = machine_cpu_seconds()
    subprocess.run([sys.executable, "-c", BURN.format(seconds=0.5)], check=True)
    # Other work on the machine can only add to it.
    assert machine_cpu_seconds() - before >= 0.45


def test_the_bulk_act_can_wait_for_every_user_to_have_signed_in_or_failed() -> None:
    users = Users(f"http://127.0.0.1:{free_port()}", "nobody", "pw", count=3)  # nothing listens
    assert not users.wait_arrived(timeout=0.2), "nobody has tried to sign in yet"

    users.start()
    try:
        assert users.wait_arrived(timeout=30)
    finally:
        users.stop()
    # Each sign-in ended (refused), and that is what released the wait.
    assert [hit.page for hit in users.hits] == ["login"] * 3
    assert all(hit.error for hit in users.hits)


def test_the_stack_row_says_the_postgresql_settings_the_figures_depend_on():
    result = LoadResult(stack="postgresql + redis", workers=2, users=20, people=2000,
                        web_processes=2, server="max_wal_size 8GB, shared_buffers 2GB")  # fmt: skip

    stack_row = rows(result)[0]

    assert stack_row.metric == (
        "stack: postgresql + redis, 2 web process(es), 2 worker(s) "
        "(max_wal_size 8GB, shared_buffers 2GB); 20 users; 0 s of load"
    )


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's settings")
def test_the_server_settings_are_read_as_the_server_shows_them():
    with connection.cursor() as cursor:
        said = server_settings(cursor)
        shown = []
        for name in SERVER_SETTINGS:
            cursor.execute(f"SHOW {name}")
            shown.append(f"{name} {cursor.fetchone()[0]}")

    assert said == ", ".join(sorted(shown))
