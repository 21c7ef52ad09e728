"""``bench --section memory``: each step's peak is its own, not the process's so far."""

from __future__ import annotations

import pytest

from crmhub.bench.memory import _peak, _peak_reset, _status_mb

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
