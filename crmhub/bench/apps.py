from __future__ import annotations

from django.apps import AppConfig


class BenchConfig(AppConfig):
    """An app only so that Django finds the ``bench`` management command; no models."""

    name = "crmhub.bench"
    label = "bench"
    verbose_name = "Benchmarks"
