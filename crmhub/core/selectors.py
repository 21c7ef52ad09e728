"""Read the staff accounts (the console's "asked by" filter) and their own settings."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from crmhub.core.models import Profile


def user_list() -> QuerySet[Any]:
    """Return the user accounts by user name."""
    return get_user_model().objects.order_by("username")


def profile_time_zone(*, user: Any) -> str:
    """Return the zone ``user`` chose in their profile ("" for the site's zone)."""
    chosen = Profile.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first()
    return chosen or ""
