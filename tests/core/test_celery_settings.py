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
    assert {queue.name for queue in conf.task_queues} == {
        "housekeeping",
        "actions",
        "prompts",
        "sync",
    }
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


def _queue_of(task: str) -> str:
    route = app.amqp.router.route({}, task)
    return str(route["queue"].name)


def test_housekeeping_never_queues_behind_work():
    """The sweeper, the sync dispatcher (with the reaper) and the broker cleaning have their
    own queue, by route and in beat's schedule; acts, prompts and syncs go elsewhere."""
    app.loader.import_default_modules()
    app.finalize()
    housekeeping = {
        "crmhub.actions.tasks.actions_sweep",
        "crmhub.contacts.tasks.syncs_dispatch",
        "crmhub.actions.tasks.housekeeping",
    }
    assert {_queue_of(task) for task in housekeeping} == {"housekeeping"}
    scheduled = {
        entry["task"]: entry["options"]["queue"] for entry in app.conf.beat_schedule.values()
    }
    assert set(scheduled) == housekeeping
    assert set(scheduled.values()) == {"housekeeping"}
    assert _queue_of("crmhub.actions.tasks.action_execute") == "actions"
    assert _queue_of("crmhub.contacts.tasks.contacts_sync") == "sync"
    assert _queue_of("crmhub.contacts.tasks.persons_match") == "sync"
    assert _queue_of("crmhub.connections.tasks.connection_check") == "actions"


def test_a_message_reaches_its_queue_only():
    """With every queue declared (as in a process that published to each), a message lands
    in the queue it is routed or sent to, and no other."""
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in app.amqp.queues.values():
            queue(channel).declare()
            channel.queue_purge(queue.name)
        app.send_task("crmhub.actions.tasks.action_execute", args=[0], connection=connection)
        app.send_task("crmhub.actions.tasks.actions_sweep", connection=connection)
        app.send_task(
            "crmhub.actions.tasks.action_execute", args=[0], queue="prompts", connection=connection
        )
        counts = {queue: channel.queue_purge(queue) for queue in app.amqp.queues}
    assert counts == {"actions": 1, "housekeeping": 1, "prompts": 1, "sync": 0}


def _procfile_pools() -> dict[str, list[str]]:
    """Return the queues each worker of the Procfile serves, by process name."""
    pools = {}
    for line in (ROOT.parent / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        words = command.split()
        if "worker" in words:
            pools[name] = words[words.index("-Q") + 1].split(",")
    return pools


def test_the_run_command_has_one_pool_per_queue():
    """Syncs, plans that may prompt, other acts and housekeeping each have their own pool."""
    pools = _procfile_pools()
    assert sorted(queue for served in pools.values() for queue in served) == sorted(
        queue.name for queue in app.conf.task_queues
    )
    assert all(len(served) == 1 for served in pools.values()), pools


def test_the_readme_scales_out_with_a_pool_per_queue():
    readme = (ROOT.parent / "README.md").read_text()
    section = readme.split("## Scaling out", 1)[1].split("\n## ", 1)[0]
    for queue in ("housekeeping", "actions", "prompts", "sync"):
        assert f"-Q {queue} " in section, queue


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
