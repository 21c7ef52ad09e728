"""The contact index's sections of ``manage.py bench``: search, sync, memory.

Each runs in a child process of the command with its own database files (see
``crmhub/core/management/commands/bench.py``), so it creates the data it measures.
"""

from __future__ import annotations

from crmhub.contacts.bench import search, sync  # noqa: F401 (registers the sections)
