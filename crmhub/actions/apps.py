from __future__ import annotations

from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "crmhub.actions"
    label = "actions"

    def ready(self) -> None:
        from crmhub.actions import timings  # noqa: F401 - registers the start-up checks
