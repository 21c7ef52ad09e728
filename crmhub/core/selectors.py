"""Read the staff accounts (the console's "asked by" filter)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet


def user_list() -> QuerySet[Any]:
    """Return the user accounts by user name."""
    return get_user_model().objects.order_by("username")
