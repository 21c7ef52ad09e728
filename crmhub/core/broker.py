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
Selected by ``CELERY_BROKER_TRANSPORT``.
"""

from __future__ import annotations

import os
import uuid
from collections import deque
from queue import Empty
from time import monotonic, time_ns
from typing import Any

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

    # kombu's filesystem channel narrows these two methods of the virtual channel (its stubs
    # ignore the same override); ours keep the filesystem channel's signatures.
    def _put(  # type: ignore[override]  # the filesystem channel's signature, as in kombu
        self, queue: str, payload: Any, **kwargs: Any
    ) -> None:
        """Write the message whole under a hidden name, then rename it into the queue."""
        name = message_name(queue)
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _list(self, queue: str) -> None:
        """List the queue folder for the message names of ``queue``, oldest first."""
        wanted = f"{queue}.msg"
        names = [
            name
            for name in os.listdir(self.data_folder_in)
            if name.partition(".")[2] == wanted and not name.startswith(".")
        ]
        self._listing[queue] = deque(sorted(names))
        self._listed_at[queue] = monotonic()

    def _get(self, queue: str) -> Any:  # type: ignore[override]  # as in kombu's filesystem channel
        """Take the oldest message of ``queue`` by renaming it; exactly one consumer wins."""
        folder = self.data_folder_in
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


class Transport(filesystem.Transport):
    Channel = Channel
