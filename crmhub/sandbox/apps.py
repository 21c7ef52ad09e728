from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "crmhub.sandbox"
    label = "sandbox"
    verbose_name = "Sandbox CRMs"
