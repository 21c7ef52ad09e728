"""The one vocabulary of redaction: which names are secret-like, and what a masked value reads.

Pure Python, no Django: the connectors (which record every call they make) and
``crmhub.core.redaction`` (logs, error reports, pages) both use it, so a secret is masked
under the same names with the same text wherever it would appear.
"""

from __future__ import annotations

import re

#: What a masked secret reads.
MASK = "[redacted]"
#: A field, header, parameter or variable whose name matches this holds a secret.
SECRET_NAME = re.compile(
    r"api[-_]?key|access[-_]?key|password|passwd|secret|token|authorization"
    r"|session[-_]?key|signature|cookie|csrf",
    re.IGNORECASE,
)
#: A known secret value shorter than this is not masked (it would mask ordinary text).
MIN_SECRET_LENGTH = 4


def is_secret_name(name: object) -> bool:
    """Return whether a value under ``name`` is a secret."""
    return bool(SECRET_NAME.search(str(name)))
