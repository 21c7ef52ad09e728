"""The sections of ``manage.py bench``, in the order a full run takes them.

Imported, not discovered: a section that cannot be imported stops the command with its
``ImportError`` rather than leaving a table with a row missing.
"""

from __future__ import annotations

from crmhub.bench import (
    fanout,
    freshness,
    matching,
    memory,
    pages,
    pools,
    search,
    sync,
    typing,
)
from crmhub.bench.base import Section
from crmhub.bench.load import section as load

SECTIONS: dict[str, Section] = {
    "search": search.section,
    "sync": sync.section,
    "memory": memory.section,
    "fanout": fanout.section,
    "pools": pools.section,
    "pages": pages.section,
    "matching": matching.section,
    "typing": typing.section,
    "load": load.section,
    "freshness": freshness.section,
}
