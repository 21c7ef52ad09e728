"""The Celery settings guard (reliability.md R7 and §5)."""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings

from crmhub.celery import app

ROOT = Path(__file__).resolve().parents[2] / "crmhub"


def test_delivery_settings_make_side_effects_safe():
    conf = app.conf
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_ignore_result is True
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit <= 300
    assert {queue.name for queue in conf.task_queues} == {"actions", "sync"}
    assert settings.CRMHUB_MAX_DELIVERIES <= 3


def test_visibility_timeout_outlives_tasks_and_backoff():
    visibility = settings.CELERY_VISIBILITY_TIMEOUT
    assert visibility >= 6 * app.conf.task_time_limit
    assert visibility / 2 > settings.CELERY_RETRY_BACKOFF_MAX
    if settings.CELERY_BROKER_URL.startswith(("redis", "sqs")):
        assert app.conf.broker_transport_options["visibility_timeout"] == visibility


def test_beat_runs_the_sweeper_and_the_dispatcher():
    app.loader.import_default_modules()
    app.finalize()
    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "crmhub.actions.tasks.actions_sweep" in tasks
    assert "crmhub.contacts.tasks.syncs_dispatch" in tasks
    assert set(tasks) <= set(app.tasks), "every scheduled task is registered"


def _long_delays(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in (
            "apply_async",
            "retry",
        ):
            for keyword in node.keywords:
                if keyword.arg in ("countdown", "eta") and isinstance(keyword.value, ast.Constant):
                    value = keyword.value.value
                    if keyword.arg == "eta" or (isinstance(value, int | float) and value > 60):
                        lines.append(node.lineno)
    return lines


def test_no_task_is_scheduled_past_a_minute_through_the_broker():
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in ROOT.rglob("*.py")
        if (lines := _long_delays(ast.parse(path.read_text())))
    }
    assert offenders == {}, "long delays belong in Action.not_before, not in the broker"


def test_the_scan_finds_a_long_countdown():
    assert _long_delays(ast.parse("task.apply_async(args=[1], countdown=3600)")) == [1]
