from __future__ import annotations

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "crmhub.console"
    label = "console"
    verbose_name = "Staff console"
