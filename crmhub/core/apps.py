from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "crmhub.core"
    label = "core"
    verbose_name = "crmhub"

    def ready(self) -> None:
        from crmhub.core.services import roles_ensure

        post_migrate.connect(roles_ensure, dispatch_uid="crmhub-roles")
