"""The embedded broker: kombu's filesystem transport, made safe for several processes.

kombu's own filesystem channel creates a message file and then writes into it, and takes a
message by moving it (to the temp dir, often another file system: a copy, then a delete).
A consumer that lists the folder between the create and the write reads an empty file, and
the Celery worker stops on an "Unrecoverable error: JSONDecodeError"; two consumers can
both copy one message. Here a message is written under a hidden name and renamed into the
queue (readers see it whole or not at all), and taken by renaming it in the same folder
(exactly one consumer wins). Selected by ``CELERY_BROKER_TRANSPORT`` in settings.
"""

from __future__ import annotations

import os
import uuid
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

_TAKEN = ".taken-"


class Channel(filesystem.Channel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Open the channel, making the broker's folders first if they are not there yet."""
        super().__init__(*args, **kwargs)
        for folder in (self.data_folder_in, self.data_folder_out, self.processed_folder):
            os.makedirs(folder, exist_ok=True)
        self.control_folder.mkdir(parents=True, exist_ok=True)

    # kombu's filesystem channel narrows these two methods of the virtual channel (its stubs
    # ignore the same override); ours keep the filesystem channel's signatures.
    def _put(  # type: ignore[override]  # the filesystem channel's signature, as in kombu
        self, queue: str, payload: Any, **kwargs: Any
    ) -> None:
        """Write the message whole under a hidden name, then rename it into the queue."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str) -> Any:  # type: ignore[override]  # as in kombu's filesystem channel
        """Take the oldest message of ``queue`` by renaming it; exactly one consumer wins."""
        wanted = f"{queue}.msg"
        folder = self.data_folder_in
        for name in sorted(os.listdir(folder)):
            if name.startswith(".") or name.partition(".")[2] != wanted:
                continue
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
        raise Empty()


class Transport(filesystem.Transport):
    Channel = Channel
