from __future__ import annotations

from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "crmhub.actions"
    label = "actions"
