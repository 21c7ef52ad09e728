"""Fixtures shared by every test: users per role, the real server, the real worker."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group, User

from crmhub.bench.processes import free_port as free_port  # re-exported: tests import it here
from crmhub.bench.processes import served_in_thread
from crmhub.core import roles

TEST_SETTINGS = "crmhub.settings_test"


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run on other settings than the tests' (a ``DJANGO_SETTINGS_MODULE`` exported
    in the shell wins over pyproject's, and would put the tests on the product's broker)."""
    from django.conf import settings

    if settings.SETTINGS_MODULE != TEST_SETTINGS:
        raise pytest.UsageError(
            f"The tests run on {TEST_SETTINGS}, not {settings.SETTINGS_MODULE}: "
            "unset DJANGO_SETTINGS_MODULE (pyproject.toml names the test settings)."
        )


# -- users ------------------------------------------------------------------------------------
def _user(username: str, role: str | None = None, **flags: bool) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username, **flags)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def viewer(db) -> User:  # type: ignore[no-untyped-def]
    return _user("viewer", roles.VIEWER)


@pytest.fixture
def operator(db) -> User:  # type: ignore[no-untyped-def]
    return _user("operator", roles.OPERATOR)


@pytest.fixture
def admin_user(db) -> User:  # type: ignore[no-untyped-def]
    return _user("connadmin", roles.ADMIN, is_staff=True)


@pytest.fixture
def superuser(db) -> User:  # type: ignore[no-untyped-def]
    return User.objects.create_superuser("root", "root@example.com", "pw-root")


# -- the real server (HTTP + Web Socket) ----------------------------------------------------------
class LiveServer:
    def __init__(self, url: str) -> None:
        self.url = url
        self.host_port = url.split("//", 1)[1]

    def __str__(self) -> str:
        return self.url


@pytest.fixture(scope="session")
def threads_sessions_ended(django_db_setup, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """End, before the test databases are dropped, the PostgreSQL sessions other threads kept.

    Connections are kept between requests and tasks on PostgreSQL (``DATABASE_CONN_MAX_AGE``)
    by the thread that opened them: the live server's and the workers' threads leave theirs
    open, and a database with sessions left cannot be dropped.
    """
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for alias in connections:
            if connections[alias].vendor != "postgresql":
                continue
            with connections[alias].cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            connections[alias].close()


@pytest.fixture(scope="session")
def web_server(django_db_setup, django_db_blocker, threads_sessions_ended) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """Serve crmhub's ASGI application (console + sandbox + Web Socket) with uvicorn.

    Runs in a thread of the test process, so it uses the test databases; tests that need
    it must commit their data (``transaction=True``).
    """
    with served_in_thread() as url:
        yield LiveServer(url)


@pytest.fixture
def celery_worker(transactional_db, threads_sessions_ended) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """Run a real Celery worker (thread pool) on the configured broker for one test."""
    from celery.contrib.testing.worker import start_worker

    from crmhub.celery import app
    from crmhub.core import queues

    with start_worker(
        app,
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        queues=list(queues.ALL),
        shutdown_timeout=20,
        loglevel="WARNING",
    ) as worker:
        yield worker


def wait_for(predicate, *, timeout: float = 20.0, interval: float = 0.05, message: str = ""):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(message or f"condition not met within {timeout} s")
        time.sleep(interval)


# -- the simulated CRMs ------------------------------------------------------------------
@pytest.fixture
def sandbox_spec(web_server):  # type: ignore[no-untyped-def]
    """Return a factory: seed simulated CRM ``kind`` with ``people`` and return a spec to reach it.

    ``wrong_secrets=True`` returns the same spec with every secret altered (auth must fail).
    Needs ``@pytest.mark.django_db(transaction=True, databases="__all__")``.
    """
    from crmhub.bench.sandboxes import sandbox_spec as spec_make
    from crmhub.connectors.base import ConnectionSpec
    from crmhub.sandbox.services import sandbox_seed

    def make(
        kind: str, *, people: int = 30, wrong_secrets: bool = False, reseed: bool = True
    ) -> ConnectionSpec:
        if reseed:
            sandbox_seed(people=people, kinds=(kind,), reset=True)
        return spec_make(
            kind=kind, public_url=web_server.url, wrong_secrets=wrong_secrets, timeout=(2.0, 5.0)
        )

    return make


# -- Redis, when there is one -------------------------------------------------------------
def reachable_redis() -> tuple[str | None, str]:
    """Return (a Redis URL the tests may use, or None; why).

    The broker's when ``CELERY_BROKER_URL`` is Redis (CI's second leg), else
    ``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/14``) when a server answers there.
    """
    import os

    import redis
    from django.conf import settings

    broker = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    if broker.startswith(("redis://", "rediss://")):
        return broker, "the broker is Redis"
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError as exc:
        return None, (
            f"no Redis: the broker is not Redis and none answers at {url} ({exc}); "
            "set TEST_REDIS_URL or CELERY_BROKER_URL=redis://… to run this"
        )
    return url, "a local Redis answers"


@pytest.fixture
def redis_url(settings) -> str:  # type: ignore[no-untyped-def]
    """A reachable Redis that holds the rate limits for this test (skip when there is none)."""
    url, why = reachable_redis()
    if url is None:
        pytest.skip(why)
    settings.CRMHUB_RATE_LIMIT_STORE = url
    return url
