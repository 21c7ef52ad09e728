"""The console's pages: thin views that parse input, call one service or selector, render."""

from __future__ import annotations

from typing import TypeVar

from django.http import Http404

T = TypeVar("T")


def or_404(found: T | None, message: str) -> T:
    """Return what a selector ``found``; answer 404 with ``message`` when it found nothing."""
    if found is None:
        raise Http404(message)
    return found
