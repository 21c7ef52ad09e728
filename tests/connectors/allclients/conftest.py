"""Fixtures of the AllClients connector tests: a seeded sandbox and connectors to it."""

from __future__ import annotations

import dataclasses

import pytest

from crmhub.connectors.registry import get_connector


@pytest.fixture
def spec(sandbox_spec):
    return sandbox_spec("allclients", people=12)


@pytest.fixture
def connector(spec):
    connector = get_connector(spec)
    yield connector
    connector.close()


@pytest.fixture
def json_connector(spec):
    connector = get_connector(
        dataclasses.replace(spec, settings={**spec.settings, "response_type": "json"})
    )
    yield connector
    connector.close()
