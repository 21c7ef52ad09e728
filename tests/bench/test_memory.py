"""``bench --section memory``: each step's peak is its own, not the process's so far."""

from __future__ import annotations

import pytest
from django.db import connection

from crmhub.bench.memory import (
    _checkpoints,
    _max_wal_mb,
    _peak,
    _peak_reset,
    _server_rows,
    _status_mb,
)

MB = 2**20


@pytest.mark.skipif(not _peak_reset(), reason="the kernel does not let VmHWM be reset")
def test_each_step_records_the_peak_of_its_own_block():
    peaks: dict[str, float] = {}
    with _peak(peaks, "large") as exact:
        block = bytearray(64 * MB)
        for offset in range(0, len(block), 4096):  # touched: resident
            block[offset] = 1
        del block
    with _peak(peaks, "small"):
        pass

    assert exact
    assert peaks["large"] >= _status_mb("VmRSS") + 60
    assert peaks["small"] < peaks["large"] - 60


@pytest.mark.django_db
def test_the_postgresql_server_settings_and_checkpoints_are_read_on_postgresql_only():
    if connection.vendor != "postgresql":
        assert _checkpoints() is None and _max_wal_mb() is None
        assert _server_rows(None, None) == []
        return
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_wal_size")  # e.g. "1GB", "8GB", "512MB"
        shown = cursor.fetchone()[0]
    number, unit = int(shown[:-2]), shown[-2:]
    assert _max_wal_mb() == number * {"MB": 1, "GB": 1024}[unit]
    counts = _checkpoints()
    assert counts is not None and set(counts) == {"requested", "timed"}
    assert all(isinstance(n, int) and n >= 0 for n in counts.values())


def test_the_checkpoint_rows_say_what_forced_them():
    rows = {row.metric: row.value for row in _server_rows({"requested": 15, "timed": 1}, 1024)}

    assert rows == {
        "  the PostgreSQL server's max_wal_size": 1024,
        "  its checkpoints during the pass, forced by the WAL's size": 15,
        "  its checkpoints during the pass, timed": 1,
    }
