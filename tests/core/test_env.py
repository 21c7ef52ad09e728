from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import kombu
import pytest
import requests
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from crmhub.bench.processes import free_port
from crmhub.core import env
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_read_bool_accepts_clear_words_and_refuses_others():
    assert env.read_bool({"X": "yes"}, "X", default=False) is True
    assert env.read_bool({"X": "0"}, "X", default=True) is False
    assert env.read_bool({}, "X", default=True) is True
    with pytest.raises(ImproperlyConfigured, match="X must be one of"):
        env.read_bool({"X": "maybe"}, "X", default=False)


def test_read_list_splits_and_trims():
    assert env.read_list({"H": " a.example , b.example,, "}, "H", default=[]) == [
        "a.example",
        "b.example",
    ]
    assert env.read_list({}, "H", default=["x"]) == ["x"]


def test_mode_defaults_to_embedded_and_refuses_unknown():
    assert env.read_mode({}) == "embedded"
    assert env.read_mode({"CRMHUB_MODE": "Production"}) == "production"
    with pytest.raises(ImproperlyConfigured):
        env.read_mode({"CRMHUB_MODE": "staging"})


def test_embedded_secret_key_is_generated_once_and_reused(tmp_path):
    first = env.read_secret_key({}, mode="embedded", var_dir=tmp_path)
    second = env.read_secret_key({}, mode="embedded", var_dir=tmp_path)
    assert first == second and len(first) > 50
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_production_requires_secret_key_and_field_keys(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is not set"):
        env.read_secret_key({}, mode="production", var_dir=tmp_path)
    with pytest.raises(ImproperlyConfigured, match="CRMHUB_FIELD_KEYS is not set"):
        env.read_field_keys({}, mode="production", var_dir=tmp_path)
    assert not (tmp_path / "secret_key").exists()


def test_field_keys_are_validated_and_kept_in_order(tmp_path):
    keys = [Fernet.generate_key().decode(), Fernet.generate_key().decode()]
    assert (
        env.read_field_keys(
            {"CRMHUB_FIELD_KEYS": ",".join(keys)}, mode="production", var_dir=tmp_path
        )
        == keys
    )
    with pytest.raises(ImproperlyConfigured, match="item 2 is not a valid Fernet key"):
        env.read_field_keys(
            {"CRMHUB_FIELD_KEYS": f"{keys[0]},nope"}, mode="embedded", var_dir=tmp_path
        )


def test_local_url_reaches_a_server_listening_on_every_address_through_loopback():
    assert env.local_url(host="127.0.0.1", port=8000) == "http://127.0.0.1:8000"
    assert env.local_url(host="0.0.0.0", port=9000) == "http://127.0.0.1:9000"  # noqa: S104
    assert env.local_url(host="::", port=9000) == "http://127.0.0.1:9000"
    assert env.local_url(host="::1", port=8000) == "http://[::1]:8000"
    assert env.local_url(host="crm.internal", port=80) == "http://crm.internal:80"


def test_embedded_broker_is_the_fast_filesystem_transport(tmp_path):
    url, options = env.embedded_broker(tmp_path / "broker")
    assert url == "filesystem://"
    assert options["polling_interval"] == 0.02
    assert options["data_folder_in"] == options["data_folder_out"]
    assert not (tmp_path / "broker").exists()  # reading the configuration writes nothing


def test_the_embedded_broker_makes_its_folders_when_it_connects(tmp_path):
    url, options = env.embedded_broker(tmp_path / "broker")
    with kombu.Connection(
        url, transport="crmhub.core.broker:Transport", transport_options=options
    ) as connection:
        connection.SimpleQueue("probe").put({"hello": 1})
    assert {p.name for p in (tmp_path / "broker").iterdir()} == {"queue", "processed", "control"}
    assert len(list((tmp_path / "broker" / "queue" / "probe").glob("*.probe.msg"))) == 1


def _manage(*args: str, extra_env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "CRMHUB_FIELD_KEYS")
    }
    environment.update({"CRMHUB_VAR_DIR": str(tmp_path), **extra_env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_start_without_keys_is_a_clear_error(tmp_path):
    result = _manage("check", extra_env={"CRMHUB_MODE": "production"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr.splitlines()[-1]


def test_production_settings_pass_check_deploy(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        extra_env={
            "CRMHUB_MODE": "production",
            "SECRET_KEY": "x" * 20 + "-Q8v2KfW9pL3sT6yZ1cR4nB7mH0dJ5gX-" + "y" * 20,
            "CRMHUB_FIELD_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "crmhub.example.com",
        },
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- the data folder elsewhere (CRMHUB_VAR_DIR) ---------------------------------------------------
#: What ties a process to the test run; the product started as scripts/run starts it has none.
NOT_THE_PRODUCTS = (
    "DJANGO_SETTINGS_MODULE",
    "CRMHUB_VAR_DIR",
    "CRMHUB_BROKER_DIR",
    "CRMHUB_FAULT",
    "DATABASE_URL",
    "SANDBOX_DATABASE_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "CRMHUB_FIELD_KEYS",
)


def _checkout_without_var(tmp_path: Path) -> Path:
    """Copy the checkout's code (and no var/) to a new folder, the project's .venv linked in."""
    checkout = tmp_path / "checkout"
    for name in ("crmhub", "templates", "static"):
        shutil.copytree(ROOT / name, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("manage.py", "Procfile"):
        shutil.copy2(ROOT / name, checkout / name)
    (checkout / ".venv").symlink_to((ROOT / ".venv").resolve())
    return checkout


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop honcho as Ctrl-C would (it stops web, worker and beat); kill it if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.slow
def test_run_with_the_data_folder_elsewhere_writes_nothing_in_the_checkout(tmp_path):
    """scripts/run's steps after installing (migrate both databases, start the Procfile) in
    a checkout without var/: every process starts, and every file goes to CRMHUB_VAR_DIR."""
    checkout = _checkout_without_var(tmp_path)
    data = tmp_path / "data"  # not there yet: the processes make it
    port, sandbox_port = free_port(), free_port()
    environment = {k: v for k, v in os.environ.items() if k not in NOT_THE_PRODUCTS}
    environment.update(
        CRMHUB_VAR_DIR=str(data),
        CRMHUB_PORT=str(port),
        CRMHUB_SANDBOX_PORT=str(sandbox_port),
        CRMHUB_WORKERS="1",
        PYTHONPATH=str(checkout),
    )
    python = str(checkout / ".venv" / "bin" / "python")
    for database in ("default", "sandbox"):
        subprocess.run(
            [python, "manage.py", "migrate", "--database", database, "--noinput", "-v", "0"],
            cwd=checkout, env=environment, check=True, timeout=180,
        )  # fmt: skip
    # One worker per queue (see the Procfile): each says it is ready.
    pools = sum(" worker " in line for line in (checkout / "Procfile").read_text().splitlines())
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        run = subprocess.Popen(
            [str(checkout / ".venv" / "bin" / "honcho"), "-f", "Procfile", "start"],
            cwd=checkout, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:

        def started() -> bool:
            assert run.poll() is None, log_path.read_text(errors="replace")[-3000:]
            try:
                web = requests.get(f"http://127.0.0.1:{port}/login/", timeout=2).ok
            except requests.RequestException:
                web = False
            text = log_path.read_text(errors="replace")
            return web and text.count(" ready.") >= pools and "beat: Starting..." in text

        wait_for(started, timeout=90, interval=0.5, message="web, workers and beat did not start")
        # Beat keeps its schedule in the data folder (the Procfile names no file).
        wait_for(lambda: list(data.glob("celerybeat-schedule*")), timeout=20)
        # The sandbox CRMs answer from their own process, and only there; the console runs
        # as several processes.
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        login = "/sandbox/collect/api/v1/auth/login"
        refused = requests.post(sandbox + login, json={}, timeout=5)
        assert refused.status_code != 404 and "error" in refused.json()
        in_console = requests.post(f"http://127.0.0.1:{port}{login}", json={}, timeout=5)
        assert in_console.status_code == 404
        assert requests.get(f"{sandbox}/login/", timeout=5).status_code == 404
        assert "Started parent process" in log_path.read_text(errors="replace")
    finally:
        _stop(run)
    assert not (checkout / "var").exists()
    assert {"crmhub.sqlite3", "sandbox.sqlite3", "secret_key", "field_keys", "broker"} <= {
        path.name for path in data.iterdir()
    }
