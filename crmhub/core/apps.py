from __future__ import annotations

from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate


def data_folders() -> list[Path]:
    """Return the folders this process may write into: those of the SQLite databases (and
    of their test copies), of the static files WhiteNoise serves, and of beat's schedule.

    Reading the settings writes nothing; a process makes these at start-up (``ready``), so
    a data folder moved with ``CRMHUB_VAR_DIR`` needs no folder made beforehand.
    """
    files: list[str] = [settings.CELERY_BEAT_SCHEDULE_FILENAME]
    for config in settings.DATABASES.values():
        if config["ENGINE"] == "django.db.backends.sqlite3":
            files += [str(config["NAME"]), str(config.get("TEST", {}).get("NAME") or "")]
    folders = [Path(settings.STATIC_ROOT)]
    folders += [Path(name).parent for name in files if name and _on_disk(name)]
    return list(dict.fromkeys(folders))


def _on_disk(name: str) -> bool:
    return name != ":memory:" and not name.startswith("file:")


class CoreConfig(AppConfig):
    name = "crmhub.core"
    label = "core"
    verbose_name = "crmhub"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from crmhub.connectors.http import transport
        from crmhub.core import redaction
        from crmhub.core.middleware import time_zone_on_sign_in
        from crmhub.core.services import roles_ensure

        for folder in data_folders():
            folder.mkdir(parents=True, exist_ok=True)
        post_migrate.connect(roles_ensure, dispatch_uid="crmhub-roles")
        # A session knows its user's time zone from the sign-in (no query per page).
        user_logged_in.connect(time_zone_on_sign_in, dispatch_uid="crmhub-time-zone")
        # Session tokens a connector obtains are masked in every log line and error report.
        if redaction.register_secret not in transport.SECRET_LISTENERS:
            transport.SECRET_LISTENERS.append(redaction.register_secret)
