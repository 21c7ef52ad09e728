"""A web process readies its first publish and freezes its start-up heap, off the requests."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from crmhub.celery import app
from crmhub.core import publishing, warmup
from tests.security.test_broker_down import broker_stopped


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Give the test a process whose heap nothing froze, and leave it so."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_warming_the_broker_leaves_a_connected_producer_and_sends_nothing(monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr(app, "send_task", lambda name, **_: sent.append(name))

    assert publishing.broker_warm() is True

    assert sent == []
    with app.producer_or_acquire() as producer:  # the pool's: the one just warmed
        assert producer.connection.connected


def test_a_broker_down_is_not_warmed_and_nothing_raises(caplog):
    with broker_stopped():
        assert publishing.broker_warm() is False
    assert "broker not warmed" in caplog.text


def test_a_web_process_warms_then_freezes_its_heap(unfrozen, monkeypatch):
    warmed: list[bool] = []
    monkeypatch.setattr(publishing, "broker_warm", lambda: warmed.append(True) or True)
    assert gc.get_freeze_count() == 0

    warmup.web_warm(publishes=True)

    assert warmed == [True]
    assert gc.get_freeze_count() > 10_000  # Django and every module: far more than this


def test_the_sandbox_process_does_not_warm_a_broker(unfrozen, monkeypatch):
    monkeypatch.setattr(publishing, "broker_warm", lambda: pytest.fail("warmed"))
    warmup.web_warm(publishes=False)
    assert gc.get_freeze_count() > 0


def _lifespan(application: Any) -> list[str]:
    """Start and stop ``application`` as a server does; return the messages it sent."""
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    asyncio.run(asyncio.wait_for(application({"type": "lifespan"}, receive, send), 10))
    return sent


@pytest.mark.parametrize(("role", "publishes"), [("console", True), ("sandbox", False)])
def test_a_started_server_warms_once_in_the_background(settings, monkeypatch, role, publishes):
    from crmhub.asgi import application

    settings.CRMHUB_WEB_ROLE = role
    monkeypatch.setattr(warmup, "_started", threading.Event())
    calls: list[bool] = []
    done = threading.Event()

    def web_warm(*, publishes: bool) -> None:
        calls.append(publishes)
        done.set()

    monkeypatch.setattr(warmup, "web_warm", web_warm)

    assert _lifespan(application) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert _lifespan(application) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]

    assert done.wait(10)
    assert calls == [publishes]  # once a process, however often it is started
