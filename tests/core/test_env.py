from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from crmhub.core import env

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


def test_embedded_broker_is_the_fast_filesystem_transport(tmp_path):
    url, options = env.embedded_broker(tmp_path / "broker")
    assert url == "filesystem://"
    assert options["polling_interval"] == 0.02
    assert options["data_folder_in"] == options["data_folder_out"]
    assert Path(str(options["data_folder_in"])).is_dir()


def _manage(*args: str, extra_env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "CRMHUB_FIELD_KEYS", "PYTEST_VERSION")
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
