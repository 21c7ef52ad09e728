"""The settings: one test arrangement, nothing written when read, every variable declared."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
#: Settings read from a variable of another name.
SETTING_OF = {"CRMHUB_VAR_DIR": "VAR_DIR"}


def _python(code: str, *, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tests_and_the_processes_they_start_run_on_the_test_settings():
    assert settings.SETTINGS_MODULE == "crmhub.settings_test"
    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]
    assert settings.CELERY_DB_REUSE_MAX == 0
    # What a subprocess inherits: the same settings module.
    assert os.environ["DJANGO_SETTINGS_MODULE"] == "crmhub.settings_test"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.conf import settings; print(settings.SETTINGS_MODULE)"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == "crmhub.settings_test", result.stderr


def test_the_product_settings_know_nothing_of_tests():
    source = (ROOT / "crmhub" / "settings.py").read_text()
    assert "PYTEST" not in source
    assert "TESTING" not in source


def test_reading_the_settings_writes_nothing(tmp_path):
    data = tmp_path / "data"
    env = {
        **os.environ,
        "CRMHUB_VAR_DIR": str(data),
        "SECRET_KEY": "s" * 50,
        "CRMHUB_FIELD_KEYS": Fernet.generate_key().decode(),
    }
    env.pop("CRMHUB_BROKER_DIR", None)
    env.pop("CELERY_BROKER_URL", None)  # the embedded broker, whose folder is not made
    result = _python(
        "import crmhub.settings, crmhub.settings_test; "
        "print(crmhub.settings.CELERY_BROKER_TRANSPORT_OPTIONS['data_folder_in'])",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(data.resolve() / "broker" / "queue")
    assert not data.exists()


def test_a_process_makes_its_data_folders_at_start_up(tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "CRMHUB_VAR_DIR": str(data)}
    for name in ("CRMHUB_BROKER_DIR", "DATABASE_URL", "SANDBOX_DATABASE_URL"):
        env.pop(name, None)
    result = _python(
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CELERY_BEAT_SCHEDULE_FILENAME)",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(data.resolve() / "celerybeat-schedule")
    assert (data / "staticfiles").is_dir()
    assert (data / "test").is_dir()  # where the test settings keep the test databases


# -- every CRMHUB_* variable: read in settings only, declared, documented ----------------------
def _code_files() -> list[Path]:
    return [
        *sorted((ROOT / "crmhub").rglob("*.py")),
        *sorted((ROOT / "scripts").iterdir()),
        ROOT / "Procfile",
    ]


def _readme_variables() -> set[str]:
    table = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("|")]
    return {name for line in table for name in re.findall(r"`(CRMHUB_[A-Z0-9_]+)`", line)}


def _variables_read() -> set[str]:
    """Return the CRMHUB_* variables read from the environment anywhere in the product."""
    python = re.compile(r"""(?:ENV|env|environ)(?:\.get\(|\[)\s*(?:ENV,\s*)?["'](CRMHUB_\w+)""")
    helper = re.compile(r"""read_\w+\(\s*(?:ENV|env),\s*["'](CRMHUB_\w+)""")
    shell = re.compile(r"\$\{(CRMHUB_\w+)")
    names: set[str] = set()
    for path in _code_files():
        text = path.read_text()
        for pattern in (python, helper, shell):
            names.update(pattern.findall(text))
    return names


def test_crmhub_variables_are_read_by_the_settings_only():
    """Other modules read the settings (no hidden default), never the environment."""
    allowed = {ROOT / "crmhub" / "settings.py", ROOT / "crmhub" / "core" / "env.py"}
    reads_environment = re.compile(r"""(?:environ\.get\(|environ\[|getenv\()\s*["']CRMHUB_""")
    hidden_default = re.compile(r"""getattr\(\s*settings,\s*["']CRMHUB_""")
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "crmhub").rglob("*.py"))
        if path not in allowed
        and (reads_environment.search(path.read_text()) or hidden_default.search(path.read_text()))
    ]
    assert offenders == []


def test_every_crmhub_variable_is_a_setting_and_in_the_readme():
    read = _variables_read()
    assert {"CRMHUB_VAR_DIR", "CRMHUB_MODE", "CRMHUB_HOST", "CRMHUB_BROKER_DIR"} <= read
    missing_settings = {name for name in read if not hasattr(settings, SETTING_OF.get(name, name))}
    assert missing_settings == set()
    assert read - _readme_variables() == set(), "add these to README's configuration table"
    assert _readme_variables() - read == set(), "README documents variables nothing reads"


def test_every_crmhub_setting_that_the_code_names_exists():
    named = {
        name
        for path in _code_files()
        for name in re.findall(r"settings\.(CRMHUB_[A-Z0-9_]+)", path.read_text())
    }
    assert named
    assert {name for name in named if not hasattr(settings, name)} == set()


def test_the_procfile_defaults_are_the_settings_defaults():
    """The Procfile reads CRMHUB_HOST, CRMHUB_PORT, CRMHUB_WORKERS itself: same defaults."""
    defaults = re.findall(r"\$\{(CRMHUB_\w+):-([^}]*)\}", (ROOT / "Procfile").read_text())
    assert defaults
    env = {k: v for k, v in os.environ.items() if k not in dict(defaults)}
    names = [name for name, _ in defaults]
    result = _python(
        f"import crmhub.settings as s; print(' '.join(str(getattr(s, n)) for n in {names!r}))",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [default for _, default in defaults]


def test_the_public_url_follows_where_scripts_run_listens():
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMHUB_")}
    code = "import crmhub.settings as s; print(s.CRMHUB_PUBLIC_URL)"
    assert _python(code, env=env).stdout.strip() == "http://127.0.0.1:8000"
    every_address = {"CRMHUB_HOST": "0.0.0.0", "CRMHUB_PORT": "9000"}  # noqa: S104
    moved = _python(code, env={**env, **every_address})
    assert moved.stdout.strip() == "http://127.0.0.1:9000", moved.stderr
    given = {**env, "CRMHUB_PORT": "9000", "CRMHUB_PUBLIC_URL": "https://crm.example.com/"}
    assert _python(code, env=given).stdout.strip() == "https://crm.example.com"


def test_a_console_web_process_keeps_few_threads_and_their_sqlite_connections(tmp_path):
    """A console process's requests are CPU work: 4 threads, each keeping its SQLite
    connection (a new one is paid again by every request); elsewhere 16 threads, and SQLite
    connections opened per request or task (each kept one holds its own page cache)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CRMHUB_WEB_ROLE", "CRMHUB_WEB_THREADS", "DATABASE_CONN_MAX_AGE")
        and k not in ("DATABASE_URL", "SANDBOX_DATABASE_URL")
    }
    env["CRMHUB_VAR_DIR"] = str(tmp_path)
    code = (
        "import crmhub.settings as s; "
        "print(s.CRMHUB_WEB_THREADS, *(d['CONN_MAX_AGE'] for d in s.DATABASES.values()))"
    )
    roles = {
        role: _python(code, env={**env, "CRMHUB_WEB_ROLE": role}).stdout.split()
        for role in ("console", "sandbox", "all")
    }
    assert roles == {
        "console": ["4", "60", "60"],
        "sandbox": ["16", "0", "0"],
        "all": ["16", "0", "0"],
    }
    given = {**env, "CRMHUB_WEB_ROLE": "console", "CRMHUB_WEB_THREADS": "8"}
    given["DATABASE_CONN_MAX_AGE"] = "0"
    assert _python(code, env=given).stdout.split() == ["8", "0", "0"]
    on_postgres = {**env, "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/x"}
    assert _python(code, env=on_postgres).stdout.split() == ["16", "60", "0"]
