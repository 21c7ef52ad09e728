"""The embedded broker: kombu's filesystem transport, made safe for several processes.

kombu's own filesystem channel creates a message file and then writes into it, and takes a
message by moving it (to the temp dir, often another file system: a copy, then a delete).
A consumer that lists the folder between the create and the write reads an empty file, and
the Celery worker stops on an "Unrecoverable error: JSONDecodeError"; two consumers can
both copy one message. Here a message is written under a hidden name and renamed into the
queue (readers see it whole or not at all), and taken by renaming it in the same folder
(exactly one consumer wins). Names start with the time of writing, zero-padded to a fixed
width (``message_name``), so that sorting the names sorts the messages in enqueue order
whatever the number of digits of the clock. A consumer takes the names of one listing of a
queue one by one, oldest first, until they run out (a name another consumer took meanwhile
is skipped), rather than listing and sorting the whole folder for every message; a queue
is said empty only by a listing made after the look began.

Each queue has a folder of its own inside the queue folder (``queue_folder``): a worker
polls every queue it serves every 20 ms, and with one shared folder each poll listed every
message of every queue (a bulk run's window of some hundreds) to find an empty queue's
none — about 60% of a worker's main-process CPU at 100 actions/s. A message left at the
top of the queue folder by an earlier version is moved into its queue's folder when a
channel opens.
Selected by ``CELERY_BROKER_TRANSPORT``.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections import deque
from queue import Empty
from time import monotonic, time_ns
from typing import Any
from urllib.parse import quote

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

_TAKEN = ".taken-"
#: Digits of the time stamp in a message name: nanoseconds since 1970 take 19 until 2286.
STAMP_DIGITS = 20


def message_name(queue: str, *, now_ns: int | None = None) -> str:
    """Return the file name of a new message of ``queue``: ``<time>_<uuid>.<queue>.msg``.

    The time (nanoseconds since 1970, the wall clock every process on the machine shares)
    is zero-padded to ``STAMP_DIGITS`` digits: as strings, the names sort as the times do
    (unpadded, "9999" would sort after "10000").
    """
    stamp = time_ns() if now_ns is None else now_ns
    return f"{stamp:0{STAMP_DIGITS}d}_{uuid.uuid4()}.{queue}.msg"


def queue_folder(folder: str, queue: str) -> str:
    """Return the folder of ``queue``'s messages inside the queue folder ``folder``.

    A queue name is any text (Celery's control queues hold ``@`` and dots): it is quoted so
    that it is one folder name whatever it holds.
    """
    return os.path.join(folder, quote(queue, safe="@.-_") or "%00")


def _is_message(name: str) -> bool:
    return name.endswith(".msg") and not name.startswith(".")


class Channel(filesystem.Channel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Open the channel, making the broker's folders first if they are not there yet."""
        super().__init__(*args, **kwargs)
        for folder in (self.data_folder_in, self.data_folder_out, self.processed_folder):
            os.makedirs(folder, exist_ok=True)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        #: Each queue's last listing: its message names, oldest first, not yet tried.
        self._listing: dict[str, deque[str]] = {}
        self._listed_at: dict[str, float] = {}
        #: Each queue's folder (``queue_folder``), worked out once: every queue is looked
        #: at 50 times a second.
        self._folders: dict[tuple[str, str], str] = {}
        self._move_flat_messages()

    def _folder(self, top: str, queue: str) -> str:
        """Return ``queue_folder(top, queue)``, remembered."""
        folder = self._folders.get((top, queue))
        if folder is None:
            folder = self._folders[top, queue] = queue_folder(top, queue)
        return folder

    def _move_flat_messages(self) -> None:
        """Move the messages an earlier version wrote at the top of the queue folder (all
        queues in one folder) into their queue's folder, so that they are still taken."""
        top = self.data_folder_in
        for name in os.listdir(top):
            if not _is_message(name) or not os.path.isfile(os.path.join(top, name)):
                continue
            folder = queue_folder(top, name.partition(".")[2].removesuffix(".msg"))
            try:
                os.makedirs(folder, exist_ok=True)
                os.rename(os.path.join(top, name), os.path.join(folder, name))
            except OSError:
                continue  # another channel moved or took it

    # kombu's filesystem channel narrows these two methods of the virtual channel (its stubs
    # ignore the same override); ours keep the filesystem channel's signatures.
    def _put(  # type: ignore[override]  # the filesystem channel's signature, as in kombu
        self, queue: str, payload: Any, **kwargs: Any
    ) -> None:
        """Write the message whole under a hidden name, then rename it into the queue."""
        name = message_name(queue)
        folder = self._folder(self.data_folder_out, queue)
        final = os.path.join(folder, name)
        partial = os.path.join(folder, f".{name}.part")
        try:
            try:
                handle = open(partial, "wb")  # noqa: SIM115  # closed below
            except FileNotFoundError:  # the queue's first message: make its folder
                os.makedirs(folder, exist_ok=True)
                handle = open(partial, "wb")  # noqa: SIM115
            with handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _names(self, queue: str) -> list[str]:
        """Return the message names in ``queue``'s folder (none if it has no folder yet)."""
        try:
            return [
                name
                for name in os.listdir(self._folder(self.data_folder_in, queue))
                if _is_message(name)
            ]
        except FileNotFoundError:
            return []

    def _list(self, queue: str) -> None:
        """List ``queue``'s folder for its message names, oldest first."""
        self._listing[queue] = deque(sorted(self._names(queue)))
        self._listed_at[queue] = monotonic()

    def _get(self, queue: str) -> Any:  # type: ignore[override]  # as in kombu's filesystem channel
        """Take the oldest message of ``queue`` by renaming it; exactly one consumer wins."""
        folder = self._folder(self.data_folder_in, queue)
        asked = monotonic()
        while True:
            names = self._listing.get(queue)
            while names:
                name = names.popleft()
                taken = os.path.join(folder, f"{_TAKEN}{uuid.uuid4().hex}-{name}")
                try:
                    os.rename(os.path.join(folder, name), taken)
                except OSError:
                    continue  # another consumer took it
                try:
                    with open(taken, "rb") as handle:
                        payload = handle.read()
                finally:
                    os.remove(taken)
                return loads(bytes_to_str(payload))
            if self._listed_at.get(queue, asked) > asked:  # sees what was put before the look
                raise Empty()
            self._list(queue)

    def _purge(self, queue: str) -> int:
        """Remove every message of ``queue``; return how many were removed."""
        folder = self._folder(self.data_folder_in, queue)
        count = 0
        for name in self._names(queue):
            try:
                os.remove(os.path.join(folder, name))
            except OSError:
                continue  # another consumer took it
            count += 1
        self._listing.pop(queue, None)
        return count

    def _size(self, queue: str) -> int:
        """Return how many messages ``queue`` holds."""
        return len(self._names(queue))

    # An exchange's bindings live in one file of the control folder. kombu creates that file
    # (open "wb"), then locks it and writes: another process binding the same exchange in
    # between (every worker of a fresh data folder starting at once) read it empty, and its
    # worker stopped on "Unrecoverable error: JSONDecodeError". Here the file is opened
    # without being emptied, then locked, then read; an empty file is no binding yet.
    def get_table(self, exchange: str) -> list[Any]:
        """Return the bindings of ``exchange`` (none while its file is empty)."""
        file = self._exchange_file(exchange)  # type: ignore[attr-defined]  # not in kombu's stubs
        try:
            with file.open("rb") as f_obj:
                fcntl.flock(f_obj.fileno(), fcntl.LOCK_SH)  # released on close
                return _bindings(f_obj.read())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc

    def _queue_bind(
        self, exchange: str, routing_key: str | None, pattern: str | None, queue: str | None
    ) -> None:
        """Add the binding of ``queue`` to ``exchange``'s file, under its lock."""
        # kombu's own path of the file (it checks the exchange's name).
        file = self._exchange_file(exchange)  # type: ignore[attr-defined]  # not in kombu's stubs
        self.control_folder.mkdir(exist_ok=True)
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        try:
            with os.fdopen(os.open(file, os.O_RDWR | os.O_CREAT, 0o644), "r+b") as f_obj:
                fcntl.flock(f_obj.fileno(), fcntl.LOCK_EX)  # released on close
                bindings = _bindings(f_obj.read())
                if binding not in bindings:
                    f_obj.seek(0)
                    f_obj.truncate()
                    f_obj.write(str_to_bytes(dumps([binding, *bindings])))
                    f_obj.flush()
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc


def _bindings(raw: bytes) -> list[Any]:
    """Return the bindings an exchange's file holds (``raw``; empty: none)."""
    if not raw.strip():
        return []
    return [filesystem.exchange_queue_t(*item) for item in loads(bytes_to_str(raw))]


class Transport(filesystem.Transport):
    Channel = Channel
