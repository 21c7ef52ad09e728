"""``manage.py bench``: its table, and the contact sections end to end at a tiny size."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from crmhub.core.bench import Row
from crmhub.core.management.commands.bench import sections_load, table


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


def test_a_missing_section_module_does_not_break_the_command(monkeypatch):
    from crmhub.core import bench

    monkeypatch.setattr(bench, "SECTION_MODULES", ("crmhub.contacts.bench", "crmhub.nowhere"))
    monkeypatch.setattr(
        "crmhub.core.management.commands.bench.SECTION_MODULES", bench.SECTION_MODULES
    )
    problems = sections_load()
    assert len(problems) == 1 and "crmhub.nowhere" in problems[0]
    assert {"search", "sync", "memory"} <= set(bench.SECTIONS)


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
