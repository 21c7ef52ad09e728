"""One sync per connection, leases and the reaper, the dispatcher, retries."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from crmhub.connectors import errors
from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.services import contacts_sync, sync_request, syncs_dispatch
from crmhub.contacts.sync import passes, runs
from crmhub.contacts.sync.lease import lease_length
from crmhub.contacts.sync.schedule import runs_reap
from tests.contacts.conftest import remote
from tests.contacts.helpers import sync


def people(count: int) -> list:
    return [remote(n, f"F{n}", f"L{n}", email=f"p{n}@example.com") for n in range(1, count + 1)]


@pytest.mark.django_db
def test_a_second_request_returns_the_active_run(connection):
    first = sync_request(connection=connection, requested_by="alice")
    second = sync_request(connection=connection, mode="full", requested_by="bob")

    assert second.pk == first.pk
    assert SyncRun.objects.filter(connection=connection).count() == 1


@pytest.mark.django_db
def test_the_database_refuses_two_active_runs_of_one_connection(connection):
    SyncRun.objects.create(connection=connection, mode="full")
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncRun.objects.create(connection=connection, mode="full", state="running")


@pytest.mark.django_db
def test_the_run_is_published_only_after_commit(connection, django_capture_on_commit_callbacks,
                                                monkeypatch):  # fmt: skip
    published = []
    monkeypatch.setattr(runs, "run_publish", published.append)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = sync_request(connection=connection)
        assert published == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert published == [run.pk]


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_the_same_moment_make_one_run(connection, monkeypatch):
    monkeypatch.setattr(runs, "run_publish", lambda run_id: None)
    barrier = threading.Barrier(2)
    results: list[int] = []

    def request() -> None:
        barrier.wait()
        try:
            results.append(sync_request(connection=connection).pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert len(results) == 2 and results[0] == results[1]
    assert SyncRun.objects.filter(connection=connection).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_one_run_sync_it_once(connection, fake_crms, monkeypatch):
    monkeypatch.setattr(runs, "run_publish", lambda run_id: None)
    fake_crms["allclients"].contacts = people(1200)
    run = sync_request(connection=connection)
    barrier = threading.Barrier(2)
    states: list[str] = []

    def work() -> None:
        barrier.wait()
        try:
            mine = SyncRun.objects.get(pk=run.pk)
            states.append(contacts_sync(run=mine, match=False).state)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    run.refresh_from_db()
    assert run.state == SyncRun.State.SUCCEEDED
    assert run.attempts == 1
    assert run.fetched == 1200 and run.created == 1200
    assert Contact.objects.count() == 1200


@pytest.mark.django_db
def test_a_finished_run_is_not_run_again(connection, fake_crms):
    fake_crms["allclients"].contacts = people(3)
    run = sync(connection)
    again = contacts_sync(run=run)
    assert again.state == SyncRun.State.SUCCEEDED
    assert again.attempts == 1


@pytest.mark.django_db
def test_reaper_fails_a_run_whose_lease_expired(connection):
    run = SyncRun.objects.create(
        connection=connection,
        mode="full",
        state="running",
        started_at=timezone.now() - timedelta(hours=1),
        lease_until=timezone.now() - timedelta(seconds=1),
    )
    fresh = SyncRun.objects.create(
        connection=ConnectionFactory(name="other"),
        mode="full",
        state="running",
        lease_until=timezone.now() + lease_length(),
    )

    assert runs_reap() == 1

    run.refresh_from_db()
    fresh.refresh_from_db()
    assert run.state == SyncRun.State.FAILED and run.finished_at is not None
    assert "lease expired" in run.error
    assert fresh.state == SyncRun.State.RUNNING


@pytest.mark.django_db
def test_a_zombie_worker_stops_when_its_run_was_reaped(connection, fake_crms, monkeypatch):
    fake_crms["allclients"].contacts = people(1200)
    monkeypatch.setattr(passes, "BATCH_CONTACTS", 1)  # a transaction a page
    run = sync_request(connection=connection)
    guard = passes.listing_guard

    def page_written_then_reaped(run):  # type: ignore[no-untyped-def]
        guard(run)
        if run.pages == 1:  # the worker stalled: the reaper gave the run up meanwhile
            runs_reap(now=timezone.now() + lease_length() + timedelta(seconds=1))

    monkeypatch.setattr(passes, "listing_guard", page_written_then_reaped)
    result = contacts_sync(run=run)

    assert result.state == SyncRun.State.FAILED
    assert "lease expired" in result.error
    assert result.pages == 1  # page 2 was rolled back, nothing after it ran
    assert Contact.objects.count() == 500


@pytest.mark.django_db
def test_a_run_reaped_after_its_last_page_is_not_reported_a_success(
    connection, fake_crms, monkeypatch
):
    fake_crms["allclients"].contacts = people(30)
    sync_request(connection=connection)
    contacts_sync(run=SyncRun.objects.get())
    fake_crms["allclients"].contacts = people(10)  # 20 vanish: deletions are due
    run = sync_request(connection=connection)
    guard = passes.listing_guard

    def listed_then_reaped(run):  # type: ignore[no-untyped-def]
        guard(run)
        runs_reap(now=timezone.now() + lease_length() + timedelta(seconds=1))

    monkeypatch.setattr(passes, "listing_guard", listed_then_reaped)
    result = contacts_sync(run=run)

    assert result.state == SyncRun.State.FAILED
    assert "lease expired" in result.error
    assert Contact.objects.filter(deleted_at__isnull=False).count() == 0  # not the zombie's


@pytest.mark.django_db
def test_reaper_republishes_a_lost_queued_run_and_gives_up_later(connection, monkeypatch):
    published = []
    monkeypatch.setattr(runs, "run_publish", published.append)
    run = SyncRun.objects.create(connection=connection, mode="full")
    SyncRun.objects.filter(pk=run.pk).update(queued_at=timezone.now() - timedelta(minutes=11))

    runs_reap()
    assert published == [run.pk]

    SyncRun.objects.filter(pk=run.pk).update(queued_at=timezone.now() - timedelta(hours=3))
    runs_reap()
    run.refresh_from_db()
    assert run.state == SyncRun.State.FAILED


@pytest.mark.django_db
def test_the_reaper_measures_from_when_a_retried_run_was_queued_again(
    connection, fake_crms, monkeypatch
):
    published = []
    monkeypatch.setattr(runs, "run_publish", published.append)
    crm = fake_crms["allclients"]
    crm.contacts = people(700)
    crm.page_error_at = 1
    run = sync_request(connection=connection)
    # A long sync: asked for three hours ago, its attempt failed near its end just now.
    SyncRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(hours=3))
    with pytest.raises(runs.SyncRetry):
        contacts_sync(run=run, final_attempt=False)

    assert runs_reap() == 0
    run.refresh_from_db()
    assert run.state == SyncRun.State.QUEUED, "retried, not failed as never started"
    assert published == [], "its retry message is not late"
    assert timezone.now() - run.queued_at < timedelta(minutes=1)


@pytest.mark.django_db
def test_dispatcher_respects_intervals(make_connection, monkeypatch):
    monkeypatch.setattr(runs, "run_publish", lambda run_id: None)
    now = timezone.now()
    due = make_connection("allclients", name="due", sync_interval_minutes=15)
    not_due = make_connection("apptivo", name="not due", sync_interval_minutes=15)
    make_connection("collect", name="never synced")
    inactive = make_connection("crmcom", name="inactive", is_active=False)
    busy = make_connection("allclients", name="busy", sync_interval_minutes=1)
    for connection, minutes_ago, state in (
        (due, 16, "succeeded"),
        (not_due, 14, "succeeded"),
        (busy, 30, "running"),
    ):
        run = SyncRun.objects.create(
            connection=connection, mode="full", state=state, lease_until=now + lease_length()
        )
        SyncRun.objects.filter(pk=run.pk).update(queued_at=now - timedelta(minutes=minutes_ago))

    queued = syncs_dispatch(now=now)

    assert {run.connection.name for run in queued} == {"due", "never synced"}
    assert all(run.requested_by == "schedule" for run in queued)
    assert not SyncRun.objects.filter(connection=inactive).exists()
    assert syncs_dispatch(now=now) == []  # already queued: nothing more


@pytest.mark.django_db
def test_the_dispatcher_measures_from_when_the_latest_run_was_last_queued(
    make_connection, monkeypatch
):
    monkeypatch.setattr(runs, "run_publish", lambda run_id: None)
    now = timezone.now()
    retried = make_connection("allclients", name="retried", sync_interval_minutes=60)
    run = SyncRun.objects.create(connection=retried, mode="full", state="succeeded")
    # Asked for two hours ago, retried (queued again) half an hour ago, then done.
    SyncRun.objects.filter(pk=run.pk).update(
        created_at=now - timedelta(hours=2), queued_at=now - timedelta(minutes=30)
    )
    assert syncs_dispatch(now=now) == []
    assert len(syncs_dispatch(now=now + timedelta(minutes=31))) == 1


@pytest.mark.django_db
def test_a_retryable_failure_queues_the_run_again_with_its_reason(connection, fake_crms):
    crm = fake_crms["allclients"]
    crm.contacts = people(700)
    crm.page_error_at = 1
    run = sync_request(connection=connection)

    with pytest.raises(runs.SyncRetry) as retry:
        contacts_sync(run=run, final_attempt=False)

    assert 0 < retry.value.countdown <= 300
    run.refresh_from_db()
    assert run.state == SyncRun.State.QUEUED
    assert "Attempt 1 failed, retrying: injected page failure" in run.error
    crm.page_error_at = None
    done = contacts_sync(run=run)
    assert done.state == SyncRun.State.SUCCEEDED and done.attempts == 2
    assert Contact.objects.count() == 700


@pytest.mark.django_db
def test_each_attempt_counts_from_zero_so_retries_add_up(connection, fake_crms, monkeypatch):
    monkeypatch.setattr(passes, "PAGE_SIZE", 10)
    monkeypatch.setattr(passes, "BATCH_CONTACTS", 10)
    crm = fake_crms["allclients"]
    crm.contacts = people(100)
    crm.page_error_at = 8  # twice near the end of the listing
    run = sync_request(connection=connection)
    for attempt in (1, 2):
        with pytest.raises(runs.SyncRetry):
            contacts_sync(run=run, final_attempt=False)
        run.refresh_from_db()
        assert run.state == SyncRun.State.QUEUED
        assert (run.attempts, run.pages, run.fetched) == (attempt, 8, 80)
    crm.page_error_at = None
    done = contacts_sync(run=run)

    assert done.state == SyncRun.State.SUCCEEDED, done.error  # not "the listing does not end"
    assert (done.attempts, done.pages, done.fetched) == (3, 10, 100)
    assert (done.created, done.unchanged) == (20, 80), "what the last attempt did"
    assert Contact.objects.count() == 100


@pytest.mark.django_db
def test_the_empty_pass_guard_holds_on_a_retry(connection, fake_crms):
    crm = fake_crms["allclients"]
    crm.contacts = people(700)
    sync(connection, mode="full")
    crm.page_error_at = 1  # the first attempt lists a page, then fails
    run = sync_request(connection=connection, mode="full")
    with pytest.raises(runs.SyncRetry):
        contacts_sync(run=run, final_attempt=False)
    crm.page_error_at = None
    crm.contacts = []  # the retry finds nothing at all
    done = contacts_sync(run=run)

    assert done.state == SyncRun.State.FLAGGED
    assert "no contact" in done.error
    assert (done.fetched, done.deleted, done.missing) == (0, 0, 700)
    assert not Contact.objects.filter(deleted_at__isnull=False).exists()


@pytest.mark.django_db
def test_a_non_retryable_failure_is_not_retried(connection, fake_crms, monkeypatch):
    def refused(self, *, since=None, page_size=100):  # type: ignore[no-untyped-def]
        raise errors.AuthFailed("Authentication failed")
        yield  # pragma: no cover

    monkeypatch.setattr(fake_crms["allclients"], "iter_contact_pages", refused)
    run = sync_request(connection=connection)
    result = contacts_sync(run=run, final_attempt=False)
    assert result.state == SyncRun.State.FAILED


@pytest.mark.django_db
def test_task_retries_only_retryable_errors(connection, fake_crms, monkeypatch):
    from celery.exceptions import Retry

    from crmhub.contacts.tasks import contacts_sync as task

    fake_crms["allclients"].contacts = people(700)
    fake_crms["allclients"].page_error_at = 1
    run = sync_request(connection=connection)
    monkeypatch.setattr(task, "retry", lambda **kw: Retry("retry", when=kw.get("countdown")))
    with pytest.raises(Retry):
        task.run(run.pk)
    run.refresh_from_db()
    assert run.state == SyncRun.State.QUEUED

    assert task.run(999_999) is None  # a run that is gone: nothing to do


from tests.factories import ConnectionFactory  # noqa: E402
