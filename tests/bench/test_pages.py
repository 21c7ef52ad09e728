"""``bench --section pages``: its data is timed settled, as a running server's would be."""

from __future__ import annotations

import pytest
from django.db import connection

from crmhub.bench.pages import actions_settle


def _vacuums_and_analyses() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT vacuum_count, analyze_count FROM pg_stat_user_tables "
            "WHERE relname = 'actions_action'"
        )
        vacuums, analyses = cursor.fetchone()
    return vacuums, analyses


@pytest.mark.django_db(transaction=True)  # VACUUM cannot run inside a transaction
def test_the_actions_table_is_vacuumed_and_analysed_after_its_growth_on_postgresql():
    if connection.vendor != "postgresql":
        assert actions_settle() == 0.0  # SQLite: nothing to settle
        return
    vacuums, analyses = _vacuums_and_analyses()

    assert actions_settle() > 0.0

    assert _vacuums_and_analyses() == (vacuums + 1, analyses + 1)
