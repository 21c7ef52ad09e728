"""Fetch the next pages of a listing while the current ones are written.

Network waits and XML/JSON parsing of the next pages overlap the database writes of the
current ones (SQLite and psycopg release the GIL while they work). What waits in memory is
bounded by weight (``depth``: contacts, for pages), not by count: a remote answering with
pages ten times larger does not make a sync take ten times the memory.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()
#: What the producer hands over: (True, an item or ``_END``) or (False, its exception).
_Entry = tuple[bool, Any]


class _Handover:
    """The items the producer made and the consumer has not taken, at most ``depth`` of
    their weight (one item is always let in, however heavy, so none is ever stuck)."""

    def __init__(self, depth: int, stop: threading.Event) -> None:
        self.depth = depth
        self.waiting: deque[tuple[_Entry, int]] = deque()
        self.weight = 0
        self.ready = threading.Condition()
        self.stop = stop

    def put(self, entry: _Entry, weight: int) -> bool:
        """Hand ``entry`` over once it fits; return False if the consumer left first."""
        with self.ready:
            while self.waiting and self.weight + weight > self.depth and not self.stop.is_set():
                self.ready.wait(0.1)
            if self.stop.is_set():
                return False
            self.waiting.append((entry, weight))
            self.weight += weight
            self.ready.notify_all()
            return True

    def take(self) -> _Entry:
        """Return the next entry, waiting for it."""
        with self.ready:
            while not self.waiting:
                self.ready.wait()
            return self._pop()

    def take_ready(self, room: int, until: float = 0.0) -> _Entry | None:
        """Return the next entry if its weight fits in ``room`` and it is there already,
        or comes before the monotonic time ``until``."""
        with self.ready:
            while not self.waiting and (wait := until - time.monotonic()) > 0:
                self.ready.wait(wait)
            if not self.waiting or self.waiting[0][1] > room:
                return None
            return self._pop()

    def _pop(self) -> _Entry:
        entry, weight = self.waiting.popleft()
        self.weight -= weight
        self.ready.notify_all()
        return entry


def prefetched_batches(
    items: Iterable[T], *, depth: int = 4, weight: Callable[[T], int] = lambda item: 1,
    limit: int = 1, gather: float = 0.0, on_exit: Callable[[], None] | None = None,
) -> Iterator[list[T]]:  # fmt: skip
    """Yield the items of ``items``, produced ahead by a thread, in batches; its errors
    are re-raised (after the items produced before them). ``on_exit`` runs in that thread
    when it ends (to close what it opened).

    At most ``depth`` of the items' ``weight`` wait between the thread and the batches
    (more only for a single item heavier than that). A batch is the next item (waited
    for) and then the items already produced or coming within ``gather`` seconds of it,
    while their total ``weight`` stays within ``limit``. A batch is complete before it is
    handed out, so whoever writes a batch in one transaction never holds it open across a
    network wait; ``gather`` lets a producer slower than the writer still fill batches
    (each transaction costs a commit), at the cost of that wait before the batch.
    """
    stop = threading.Event()
    handover = _Handover(depth, stop)

    def produce() -> None:
        try:
            for item in items:
                if not handover.put((True, item), weight(item)):
                    return
            handover.put((True, _END), 0)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            handover.put((False, exc), 0)
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
            ok, item = held if held is not None else handover.take()
            held = None
            if not ok:
                raise item
            if item is _END:
                return
            batch = [item]
            total = weight(item)
            until = time.monotonic() + gather
            while total < limit:
                entry = handover.take_ready(limit - total, until)
                if entry is None:
                    break
                ok, item = entry
                if not ok or item is _END:
                    held = entry
                    break
                batch.append(item)
                total += weight(item)
            yield batch
    finally:
        stop.set()
        with handover.ready:
            handover.ready.notify_all()
        thread.join(timeout=5)


def prefetched(
    items: Iterable[T],
    *,
    depth: int = 2,
    weight: Callable[[T], int] = lambda item: 1,
    on_exit: Callable[[], None] | None = None,
) -> Iterator[T]:
    """Yield the items of ``items`` one at a time, produced ahead by a thread (at most
    ``depth`` of their ``weight`` waiting; the thread runs ``on_exit`` when it ends)."""
    for batch in prefetched_batches(items, depth=depth, weight=weight, on_exit=on_exit):
        yield from batch
