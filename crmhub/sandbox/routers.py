from __future__ import annotations

from typing import Any

from django.db import models

SANDBOX_APP = "sandbox"


class SandboxRouter:
    """Keep the sandbox CRMs' data in their own database: they stand in for remote systems."""

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str:
        return "sandbox" if model._meta.app_label == SANDBOX_APP else "default"

    db_for_write = db_for_read

    def allow_relation(self, obj1: models.Model, obj2: models.Model, **hints: Any) -> bool:
        return (obj1._meta.app_label == SANDBOX_APP) == (obj2._meta.app_label == SANDBOX_APP)

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        if app_label == SANDBOX_APP:
            return db == "sandbox"
        return db == "default"
