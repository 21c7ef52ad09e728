"""Reads of connections."""

from __future__ import annotations

import pytest

from crmhub.connections.selectors import connection_detail, connection_list
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def test_connections_by_name_switched_on_or_not():
    b, a = ConnectionFactory(name="B"), ConnectionFactory(name="A", kind="apptivo")
    off = ConnectionFactory(name="C", is_active=False)

    assert list(connection_list()) == [a, b, off]
    assert list(connection_list(active=True)) == [a, b]
    assert list(connection_list(active=False)) == [off]
    assert connection_detail(pk=off.pk) == off
    assert connection_detail(pk=off.pk, active=True) is None
    assert connection_detail(pk=0) is None
