"""AllClients: form POSTs to ``<Method>.aspx`` answering XML (default) or JSON."""

from __future__ import annotations
