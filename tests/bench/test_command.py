"""``manage.py bench``: its table, its sections, and the contact sections at a tiny size."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

import crmhub.bench
from crmhub.bench.base import Row, table
from crmhub.bench.load.stack import REDIS_OWNER_KEY, RedisInUse, redis_claimed, redis_location
from crmhub.bench.sections import SECTIONS

COMMAND_MODULE = "crmhub.bench.management.commands.bench"


def test_table_prints_value_baseline_and_ratio():
    text = table(
        [
            Row("search", "search p95", 5.0, "ms", 250.0, "admin icontains OR", target="50x"),
            Row("sync", "full sync", 6000.0, "contacts/s", 300.0, "naive"),
            Row("sync", "rows written", 0, "rows", target="0"),
        ]
    )
    lines = text.splitlines()
    assert lines[0].split() == ["metric", "value", "unit", "baseline", "ratio", "target"]
    assert "50.0x" in lines[2] and "250 (admin icontains OR)" in lines[2]
    assert "20.0x" in lines[3] and "6,000" in lines[3]


def test_every_section_is_registered_in_one_place():
    assert list(SECTIONS) == [
        "search", "sync", "memory", "fanout", "pools", "pages", "matching", "typing", "load",
        "freshness",
    ]  # fmt: skip
    assert all(callable(section) for section in SECTIONS.values())


def test_a_section_that_cannot_be_imported_stops_the_command(monkeypatch):
    # A broken section module: importing it raises ImportError (None in sys.modules).
    monkeypatch.setitem(sys.modules, "crmhub.bench.pages", None)
    monkeypatch.delattr(crmhub.bench, "pages")
    monkeypatch.delitem(sys.modules, "crmhub.bench.sections")
    monkeypatch.delitem(sys.modules, COMMAND_MODULE, raising=False)

    with pytest.raises(ImportError, match=r"crmhub\.bench\.pages"):
        call_command("bench", "--section", "search", stdout=io.StringIO(), stderr=io.StringIO())


def test_the_command_exits_with_the_import_error_of_a_broken_section(tmp_path):
    # The same through manage.py, as a user runs it: no table, a traceback and exit 1.
    code = (
        "import sys, runpy; sys.modules['crmhub.bench.fanout'] = None; "
        "sys.argv = ['manage.py', 'bench', '--section', 'search', '--contacts', '40', "
        f"'--workdir', {str(tmp_path)!r}]; "
        "runpy.run_path('manage.py', run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    last_line = done.stderr.strip().splitlines()[-1]
    assert re.match(r"(ModuleNotFound|Import)Error: .*crmhub\.bench\.fanout", last_line), last_line
    assert "search p95" not in done.stdout
    assert not any(tmp_path.iterdir())  # no section ran


def test_help_lists_the_options():
    done = subprocess.run(
        [sys.executable, "manage.py", "bench", "--help"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    for option in ("--section", "--contacts", "--keep", "--option", "--workdir", "--stack",
                   "--database-url", "--broker-url"):  # fmt: skip
        assert option in done.stdout


@pytest.mark.slow
def test_contact_sections_run_on_their_own_databases(tmp_path):
    out = io.StringIO()
    call_command(
        "bench", "--contacts", "400", "--section", "search", "--section", "sync",
        "--workdir", str(tmp_path), stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    text = out.getvalue()
    assert "search: search p95" in text
    assert "sync: full sync of 400 contacts" in text
    written = [line for line in text.splitlines() if "rows written by it" in line]
    assert written[0].split()[5] == "0"  # the second sync, nothing changed
    assert "FAILED" not in text
    assert not any(tmp_path.iterdir())  # its database files are removed


@pytest.mark.slow
def test_the_matching_section_scores_people_against_the_sandbox_truth(tmp_path):
    out = io.StringIO()
    call_command(
        "bench", "--contacts", "2000", "--section", "matching", "--option", "people=1000",
        "--workdir", str(tmp_path), stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    text = out.getvalue()
    figures = {
        cells[0]: cells[1:]
        for line in text.splitlines()
        if line.startswith("matching: ") and (cells := re.split(r"\s{2,}", line.strip()))
    }
    precision = figures["matching: precision of pairs (1,000 people per CRM)"]
    value, unit, baseline, _, target = precision
    assert (float(value), unit, target) == (1.0, "ratio", ">= 0.999")
    assert float(baseline.split()[0]) < 0.999  # the rule before issue 14 joined strangers
    assert "matching: full matching, first (2,000 contacts)" in figures
    assert "matching: false pairs: switchboard" in figures
    assert "FAILED" not in text


def test_the_stack_is_chosen_once_for_every_section(monkeypatch):
    from crmhub.bench.management.commands.bench import DEFAULT_DATABASE, Command

    monkeypatch.delenv("BENCH_DATABASE_URL", raising=False)
    monkeypatch.setenv("BENCH_BROKER_URL", "redis://127.0.0.1:6392/3")
    options = {"stack": None, "database_url": None, "broker_url": None}
    extra = {"stack": "postgres"}  # the load section's way, now everyone's
    Command._stack(options, extra)
    assert options["stack"] == extra["stack"] == "postgres"
    assert options["database_url"] == extra["database_url"] == DEFAULT_DATABASE
    assert options["broker_url"] == extra["broker_url"] == "redis://127.0.0.1:6392/3"
    options = {"stack": None, "database_url": None, "broker_url": None}
    Command._stack(options, {})
    assert options == {"stack": "embedded", "database_url": None, "broker_url": None}
    with pytest.raises(CommandError, match="--stack"):
        Command._stack({"stack": None, "database_url": None, "broker_url": None}, {"stack": "x"})


def _servers() -> tuple[str, str]:
    """Return the PostgreSQL server and Redis database of the scale-out bench, or skip."""
    import psycopg
    import redis

    database = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://crmhub:crmhub@127.0.0.1:5432/postgres"
    )
    broker = _bench_redis()
    try:
        psycopg.connect(database, connect_timeout=3).close()
        redis.Redis.from_url(broker, socket_connect_timeout=3).ping()
    except (psycopg.Error, redis.RedisError) as error:
        pytest.skip(f"no PostgreSQL + Redis for the scale-out bench: {error}")
    return database, broker


def _bench_redis() -> str:
    """Return the Redis database the bench tests may have to themselves: ``BENCH_BROKER_URL``,
    else database 13 of the test run's Redis broker (CI's second leg), else of port 6392."""
    if url := os.environ.get("BENCH_BROKER_URL"):
        return url
    broker = urlsplit(os.environ.get("CELERY_BROKER_URL", ""))
    if broker.scheme in ("redis", "rediss"):
        return urlunsplit(broker._replace(path="/13"))
    return "redis://127.0.0.1:6392/13"


@pytest.fixture
def bench_redis():  # type: ignore[no-untyped-def]
    """Yield a client of the bench tests' Redis database (skip without one); empty after."""
    import redis

    url = _bench_redis()
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis for the bench tests at {redis_location(url)}: {error}")
    yield url, client
    client.flushdb()
    client.close()


def test_a_bench_has_its_redis_database_to_itself(bench_redis):
    url, client = bench_redis
    client.set("left:by:someone", "1")
    with redis_claimed(url):
        assert client.get("left:by:someone") is None  # emptied before
        assert client.get(REDIS_OWNER_KEY).decode().endswith(f":{os.getpid()}")
        with pytest.raises(RedisInUse, match=r"another bench .* is using the Redis database"):
            with redis_claimed(url):
                pass
        client.set("crmhub:rate:x", "1")  # what the section's workers wrote
    assert client.dbsize() == 0  # emptied after, the claim with it
    with redis_claimed(url):  # free again
        pass


def test_the_command_refuses_a_redis_database_another_bench_uses(bench_redis, tmp_path):
    url, client = bench_redis
    client.set(REDIS_OWNER_KEY, "elsewhere:4242")
    with pytest.raises(CommandError, match=r"elsewhere:4242.*--broker-url another database"):
        call_command(
            "bench", "--contacts", "400", "--section", "search", "--stack", "postgres",
            "--broker-url", url, "--workdir", str(tmp_path),
            stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip
    assert client.get(REDIS_OWNER_KEY) == b"elsewhere:4242"  # the other bench's data is kept


def test_a_redis_location_never_carries_its_password():
    location = redis_location("redis://:s3cret-pass@cache.example.com:6380/4")
    assert location == "cache.example.com:6380/4"


@pytest.mark.slow
def test_the_search_section_runs_on_postgresql_and_redis(tmp_path):
    database, broker = _servers()
    out = io.StringIO()
    call_command(
        "bench", "--contacts", "400", "--section", "search", "--stack", "postgres",
        "--database-url", database, "--broker-url", broker, "--workdir", str(tmp_path),
        stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    text = out.getvalue()
    assert "search: stack: postgresql + redis" in text
    assert "search: search p95" in text
    assert "FAILED" not in text


@pytest.mark.slow
def test_the_freshness_section_measures_change_to_index(tmp_path):
    out = io.StringIO()
    call_command(
        "bench", "--section", "freshness", "--option", "freshness_people=40",
        "--option", "freshness_seconds=5", "--option", "freshness_changes=4",
        "--workdir", str(tmp_path), stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    text = out.getvalue()
    figures = {
        cells[0]: cells[1:]
        for line in text.splitlines()
        if line.startswith("freshness: ") and (cells := re.split(r"\s{2,}", line.strip()))
    }
    assert figures["freshness: changes made (4) not indexed by the end"][0] == "0"
    p95 = figures["freshness: change to index p95, all CRMs"]
    assert 0 < float(p95[0]) <= 120 and p95[-1] == "p95 <= 120 s"
    assert "freshness: change to index p50, incremental (apptivo)" in figures
    apptivo = "freshness: apptivo (incremental + full): syncs succeeded, full / incremental"
    assert int(figures[apptivo][0]) >= 1
    assert "FAILED" not in text
