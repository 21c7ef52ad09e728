"""Placeholder for the simulated CRM (see registry.py)."""

from __future__ import annotations

from collections.abc import Iterable

BASE_PATH = ""
urlpatterns: list = []


def default_credentials() -> dict[str, str]:
    return {}


def seed(people: Iterable, *, batch_size: int) -> int:
    return 0


def connection_settings(credentials: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    return {}, {}
