"""SQLite's memory: held down for work that streams through the whole database once, and
prepared statements of a bounded number of sizes.

The product's SQLite connections keep a page cache of up to 64 MB and read through a
memory map of up to 256 MB (``settings.SQLITE_OPTIONS``): right for search, which reads
the same index pages again and again. A full sync or a full matching reads most pages of a
large index once, so both would fill entirely, and a process's resident memory counts
every mapped page it touched: at a million contacts the memory map alone took ~250 MB of
the sync's 530 MB peak. ``memory_bounded`` gives such work a small page cache and no map.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection as db

#: The page cache of work that streams through the database (KiB). Enough for the pages
#: one transaction of a sync dirties and the upper levels of the indexes it writes into;
#: more made a 1,000,000-contact sync no faster (``manage.py bench --section memory``).
STREAMING_CACHE_KIB = 16_384


@contextmanager
def memory_bounded(*, cache_kib: int = STREAMING_CACHE_KIB) -> Iterator[None]:
    """Run the block with this thread's SQLite connection holding at most ``cache_kib`` of
    page cache and reading without a memory map; then restore both. Nothing elsewhere."""
    if db.vendor != "sqlite":
        yield
        return
    db.ensure_connection()
    with db.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        cache = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA mmap_size")
        mapped = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = {-int(cache_kib)}")
        cursor.execute("PRAGMA mmap_size = 0")
    try:
        yield
    finally:
        if db.connection is not None:  # not closed by the block
            with db.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = {cache}")
                cursor.execute(f"PRAGMA mmap_size = {mapped}")


def statement_pieces(count: int, most: int) -> Iterator[tuple[int, int]]:
    """Yield (start, size) pieces of ``count`` items for multi-row statements: ``most`` at
    a time, then the rest in sizes that are powers of two.

    A connection prepares a statement once per text and keeps it (Python's cache holds
    128): with sizes that vary freely, a sync kept ~15 MB of statements of thousands of
    parameters, each used once; with these pieces, a dozen sizes at most.
    """
    start = 0
    while count - start >= most:
        yield start, most
        start += most
    size = 1 << max(0, most.bit_length() - 1)
    while start < count:
        if count - start >= size:
            yield start, size
            start += size
        size >>= 1
