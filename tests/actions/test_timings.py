"""The start-up check of the timings that keep actions safe (``manage.py check``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crmhub.actions.timings import action_timings_check

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_timings_pass():
    assert action_timings_check() == []


def test_a_lease_shorter_than_the_time_limit_plus_the_rate_wait_is_refused(settings):
    settings.CELERY_TASK_TIME_LIMIT = 300
    settings.CRMHUB_RATE_MAX_WAIT_SECONDS = 5
    settings.CRMHUB_ACTION_LEASE_SECONDS = 304
    (error,) = action_timings_check()
    assert error.id == "crmhub.E001"
    assert "CRMHUB_ACTION_LEASE_SECONDS (304 s)" in error.msg
    assert error.hint == "Set CRMHUB_ACTION_LEASE_SECONDS to at least 305."
    settings.CRMHUB_ACTION_LEASE_SECONDS = 305
    assert action_timings_check() == []


def test_prompt_waits_that_cannot_fit_the_soft_limit_are_refused(settings):
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 270
    settings.CRMHUB_PROMPT_TIMEOUT_SECONDS = 200
    settings.CRMHUB_PLAN_IDLE_SECONDS = 71
    (error,) = action_timings_check()
    assert error.id == "crmhub.E002"
    assert "CRMHUB_PROMPT_TIMEOUT_SECONDS, 200 s" in error.msg
    settings.CRMHUB_PLAN_IDLE_SECONDS = 70
    assert action_timings_check() == []


def test_manage_py_refuses_to_start_with_them(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMHUB_")}
    env.update(CRMHUB_VAR_DIR=str(tmp_path), CRMHUB_ACTION_LEASE_SECONDS="60")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "crmhub.E001" in result.stderr
