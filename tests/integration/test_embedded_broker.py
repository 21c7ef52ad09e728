"""The embedded broker under concurrent producers and consumers: whole messages, each once."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Producer, Queue

pytestmark = pytest.mark.integration

MESSAGES = 400


def _connection(folder: Path) -> Connection:
    for name in ("queue", "control"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    return Connection(
        "filesystem://",
        transport="crmhub.core.broker:Transport",
        transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        },
    )


def test_concurrent_producers_and_consumers_see_every_message_whole_and_once(tmp_path):
    # kombu keeps the bindings it made in a state shared by every connection of the process:
    # a name no other test bound, or the binding (written in this folder) would be skipped.
    name = f"probe-{uuid.uuid4().hex}"
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    with _connection(tmp_path) as setup:
        queue(setup.default_channel).declare()
    received: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    done_producing = threading.Event()

    def produce(offset: int) -> None:
        with _connection(tmp_path) as conn:
            producer = Producer(conn.default_channel, exchange=queue.exchange, routing_key=name)
            for n in range(offset, MESSAGES, 2):
                producer.publish({"n": n, "padding": "x" * 2000})

    def consume() -> None:
        try:
            with _connection(tmp_path) as conn:
                channel = conn.default_channel
                while True:
                    # Read the flag before looking: a look that began before the last
                    # message was written may find nothing, and must not end the consumer.
                    produced_all = done_producing.is_set()
                    message = channel.basic_get(name, no_ack=True)
                    if message is None:
                        if produced_all:
                            return
                        continue
                    with lock:
                        received.append(message.payload["n"])
        except BaseException as exc:  # a torn read would land here
            errors.append(exc)

    consumers = [threading.Thread(target=consume) for _ in range(3)]
    producers = [threading.Thread(target=produce, args=(offset,)) for offset in (0, 1)]
    for thread in consumers + producers:
        thread.start()
    for thread in producers:
        thread.join()
    done_producing.set()
    for thread in consumers:
        thread.join(timeout=30)
    assert errors == []
    counts = Counter(received)
    assert sorted(counts) == list(range(MESSAGES))
    assert set(counts.values()) == {1}
    # Only the queue's (empty) folder stays: no message, half-written or taken file.
    assert not [p for p in (tmp_path / "queue").rglob("*") if not p.is_dir()], "nothing left"
