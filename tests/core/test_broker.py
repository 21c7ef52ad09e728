"""The embedded broker's message names sort in enqueue order, at every digit boundary."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Producer, Queue

from crmhub.core import broker
from crmhub.core.broker import STAMP_DIGITS, message_name


@pytest.mark.parametrize("power", range(1, 20))
def test_names_sort_as_the_clock_across_a_digit_boundary(power):
    before, after = 10**power - 1, 10**power  # 9…9 then 10…0: one digit more
    earlier = message_name("actions", now_ns=before)
    later = message_name("actions", now_ns=after)
    assert sorted([later, earlier]) == [earlier, later]
    assert earlier.endswith(".actions.msg")
    assert len(earlier.partition("_")[0]) == len(later.partition("_")[0]) == STAMP_DIGITS


def test_today_and_for_centuries_the_stamp_fits_its_width():
    assert len(str(2**63)) <= STAMP_DIGITS


def test_messages_are_taken_in_the_order_they_were_put_across_a_boundary(
    tmp_path: Path, monkeypatch
):
    clock = iter([99_999, 100_000, 100_001, 999_999_999, 1_000_000_000])
    monkeypatch.setattr(broker, "time_ns", lambda: next(clock))
    for name in ("queue", "control"):
        (tmp_path / name).mkdir()
    options = {
        "data_folder_in": str(tmp_path / "queue"),
        "data_folder_out": str(tmp_path / "queue"),
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
    }
    # A name of its own: kombu's virtual transports keep declared exchanges in the class.
    name = f"order-{uuid.uuid4().hex}"
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    with Connection(
        "filesystem://", transport="crmhub.core.broker:Transport", transport_options=options
    ) as conn:
        channel = conn.default_channel
        queue(channel).declare()
        producer = Producer(channel, exchange=queue.exchange, routing_key=name)
        for n in range(5):
            producer.publish({"n": n})
        taken = [channel.basic_get(name, no_ack=True).payload["n"] for _ in range(5)]
    assert taken == [0, 1, 2, 3, 4]


def _options(tmp_path: Path) -> dict[str, object]:
    for name in ("queue", "control"):
        (tmp_path / name).mkdir(exist_ok=True)
    return {
        "data_folder_in": str(tmp_path / "queue"),
        "data_folder_out": str(tmp_path / "queue"),
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
    }


def _bound(channel, name: str) -> Queue:
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    queue(channel).declare()
    return queue


def test_each_queue_has_a_folder_and_an_empty_queue_lists_only_its_own(tmp_path: Path):
    busy, idle = f"busy-{uuid.uuid4().hex}", f"idle-{uuid.uuid4().hex}"
    with Connection(
        "filesystem://",
        transport="crmhub.core.broker:Transport",
        transport_options=_options(tmp_path),
    ) as conn:
        channel = conn.default_channel
        queue = _bound(channel, busy)
        _bound(channel, idle)
        producer = Producer(channel, exchange=queue.exchange, routing_key=busy)
        for n in range(3):
            producer.publish({"n": n})
        assert len(list((tmp_path / "queue" / busy).glob("*.msg"))) == 3
        assert not list((tmp_path / "queue").glob("*.msg"))  # none at the top
        assert channel.basic_get(idle, no_ack=True) is None
        assert channel._size(busy) == 3 and channel._size(idle) == 0
        assert channel.basic_get(busy, no_ack=True).payload == {"n": 0}
        assert channel._purge(busy) == 2
        assert channel.basic_get(busy, no_ack=True) is None


def test_messages_an_earlier_version_left_in_the_shared_folder_are_still_taken(
    tmp_path: Path,
):
    name = f"flat-{uuid.uuid4().hex}"
    options = _options(tmp_path)
    with Connection(
        "filesystem://", transport="crmhub.core.broker:Transport", transport_options=options
    ) as conn:
        channel = conn.default_channel
        queue = _bound(channel, name)
        Producer(channel, exchange=queue.exchange, routing_key=name).publish({"n": 1})
    # As the earlier layout wrote it: every queue's messages in the queue folder itself.
    (written,) = (tmp_path / "queue" / name).glob("*.msg")
    written.rename(tmp_path / "queue" / written.name)
    with Connection(
        "filesystem://", transport="crmhub.core.broker:Transport", transport_options=options
    ) as conn:
        channel = conn.default_channel
        _bound(channel, name)
        assert channel.basic_get(name, no_ack=True).payload == {"n": 1}
        assert channel.basic_get(name, no_ack=True) is None


def _channel_bind(options: dict[str, object], exchange: str, queue: str, start) -> None:  # type: ignore[no-untyped-def]
    """Bind ``queue`` to ``exchange`` in a process of its own, once ``start`` is set."""
    with Connection(
        "filesystem://", transport="crmhub.core.broker:Transport", transport_options=options
    ) as conn:
        start.wait(10)
        Queue(queue, Exchange(exchange, type="direct"), routing_key=queue)(
            conn.default_channel
        ).declare()


def test_an_exchange_file_another_process_just_made_is_no_binding_yet(tmp_path: Path):
    """kombu creates an exchange's file, then locks it and writes: a worker binding the same
    exchange in between read it empty and stopped (JSONDecodeError). Empty is no binding."""
    name = f"made-{uuid.uuid4().hex}"
    options = _options(tmp_path)
    (tmp_path / "control" / f"{name}.exchange").write_bytes(b"")  # created, not yet written
    with Connection(
        "filesystem://", transport="crmhub.core.broker:Transport", transport_options=options
    ) as conn:
        channel = conn.default_channel
        assert channel.get_table(name) == []
        _bound(channel, name)
        assert [binding.queue for binding in channel.get_table(name)] == [name]
        Producer(channel, exchange=Exchange(name, type="direct"), routing_key=name).publish(
            {"n": 1}
        )
        assert channel.basic_get(name, no_ack=True).payload == {"n": 1}


def test_workers_binding_one_exchange_at_once_all_bind(tmp_path: Path):
    """Several processes bind their queues to one exchange at the same moment, on a fresh
    control folder (a first start): none fails, and the file holds every binding."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for attempt in range(5):
        exchange = f"shared-{attempt}-{uuid.uuid4().hex}"
        (tmp_path / str(attempt)).mkdir()
        options = _options(tmp_path / str(attempt))
        start = context.Event()
        workers = [
            context.Process(target=_channel_bind, args=(options, exchange, f"q{n}", start))
            for n in range(6)
        ]
        for worker in workers:
            worker.start()
        start.set()
        for worker in workers:
            worker.join(30)
        assert [worker.exitcode for worker in workers] == [0] * 6
        with Connection(
            "filesystem://", transport="crmhub.core.broker:Transport", transport_options=options
        ) as conn:
            bound = {binding.queue for binding in conn.default_channel.get_table(exchange)}
        assert bound == {f"q{n}" for n in range(6)}
