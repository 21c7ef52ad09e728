"""Settings of the test suite: the product's settings with what the tests need changed.

pytest reads them (``DJANGO_SETTINGS_MODULE`` in pyproject.toml) and pytest-django puts
their name in the environment, so the Celery workers and ``manage.py`` commands that tests
start in subprocesses read these settings too. What a subprocess must share with the test
process that started it (the test databases, this run's broker folder) it is handed in
its environment (``tests/integration/harness.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

from crmhub.core import env as envmod
from crmhub.settings import *  # noqa: F403
from crmhub.settings import DATABASES, ENV, VAR_DIR

#: Test databases, hypothesis' caches, each run's broker folder (git-ignored, in var/).
TEST_DIR = VAR_DIR / "test"

# Test databases are files, not memory (live servers, workers and browsers share them), one
# set per test run so that runs side by side never meet.
DATABASES = {
    alias: {
        **config,
        "TEST": {
            "NAME": (
                str(TEST_DIR / f"test-{alias}-{os.getpid()}.sqlite3")
                if config["ENGINE"] == "django.db.backends.sqlite3"
                else f"test_{config['NAME']}_{alias}_{os.getpid()}"
            )
        },
    }
    for alias, config in DATABASES.items()
}

# The embedded broker: a folder of this run's own, unless the environment names one (as it
# does for the workers a test starts: they must use the folder of the run that started them).
if not ENV.get("CELERY_BROKER_URL", "").strip():
    CRMHUB_BROKER_DIR = Path(
        ENV.get("CRMHUB_BROKER_DIR", TEST_DIR / f"broker-{os.getpid()}")
    ).resolve()
    _, CELERY_BROKER_TRANSPORT_OPTIONS = envmod.embedded_broker(CRMHUB_BROKER_DIR)

# A worker a test starts may be told to give up waiting for a database lock sooner (the test
# of an outcome written while the database is locked): seconds, SQLite's busy timeout or
# PostgreSQL's lock_timeout.
if ENV.get("TEST_DB_LOCK_TIMEOUT"):
    _lock_wait = float(ENV["TEST_DB_LOCK_TIMEOUT"])
    for _config in DATABASES.values():
        if _config["ENGINE"] == "django.db.backends.sqlite3":
            _config["OPTIONS"] = {**_config.get("OPTIONS", {}), "timeout": _lock_wait}
        else:
            _options = f"-c lock_timeout={int(_lock_wait * 1000)}"
            _config["OPTIONS"] = {**_config.get("OPTIONS", {}), "options": _options}

# Fast sign-ins: the tests create and log in many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A connection per task: the in-process thread-pool worker of the tests would keep
# connections that the test database's teardown must drop.
CELERY_DB_REUSE_MAX = 0
