"""Fetch the next pages of a listing while the current ones are written.

Network waits and XML/JSON parsing of the next pages overlap the database writes of the
current ones (SQLite and psycopg release the GIL while they work). At most ``depth``
pages wait in memory, so a sync stays flat whatever the size of the remote.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()
#: What the producer hands over: (True, an item or ``_END``) or (False, its exception).
_Entry = tuple[bool, Any]


def prefetched_batches(
    items: Iterable[T], *, depth: int = 4, weight: Callable[[T], int] = lambda item: 1,
    limit: int = 1, on_exit: Callable[[], None] | None = None,
) -> Iterator[list[T]]:  # fmt: skip
    """Yield the items of ``items``, produced ahead by a thread, in batches; its errors
    are re-raised (after the items produced before them). ``on_exit`` runs in that thread
    when it ends (to close what it opened).

    A batch is the next item (waited for) and then only the items already produced, while
    their total ``weight`` stays under ``limit``: a batch never waits for the producer
    once it has an item, so whoever writes a batch in one transaction never holds it
    open across a network wait.
    """
    waiting: queue.Queue[_Entry] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: _Entry) -> bool:
        while not stop.is_set():
            try:
                waiting.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, _END))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put((False, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator: its own threads stop now, not when collected
                close()
            if on_exit is not None:
                on_exit()

    thread = threading.Thread(target=produce, name="sync-prefetch", daemon=True)
    thread.start()
    held: _Entry | None = None
    try:
        while True:
            ok, item = held if held is not None else waiting.get()
            held = None
            if not ok:
                raise item
            if item is _END:
                return
            batch = [item]
            total = weight(item)
            while total < limit:
                try:
                    ok, item = waiting.get_nowait()
                except queue.Empty:
                    break
                if not ok or item is _END:
                    held = (ok, item)
                    break
                batch.append(item)
                total += weight(item)
            yield batch
    finally:
        stop.set()
        thread.join(timeout=5)


def prefetched(
    items: Iterable[T], *, depth: int = 2, on_exit: Callable[[], None] | None = None
) -> Iterator[T]:
    """Yield the items of ``items`` one at a time, produced ahead by a thread (which runs
    ``on_exit`` when it ends)."""
    for batch in prefetched_batches(items, depth=depth, on_exit=on_exit):
        yield from batch
