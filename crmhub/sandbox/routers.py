from __future__ import annotations

SANDBOX_APP = "sandbox"


class SandboxRouter:
    """Keep the sandbox CRMs' data in their own database: they stand in for remote systems."""

    def db_for_read(self, model, **hints):  # type: ignore[no-untyped-def]
        return "sandbox" if model._meta.app_label == SANDBOX_APP else "default"

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):  # type: ignore[no-untyped-def]
        return (obj1._meta.app_label == SANDBOX_APP) == (obj2._meta.app_label == SANDBOX_APP)

    def allow_migrate(self, db, app_label, model_name=None, **hints):  # type: ignore[no-untyped-def]
        if app_label == SANDBOX_APP:
            return db == "sandbox"
        return db == "default"
