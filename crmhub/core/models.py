"""A staff member's own settings, beside their account and role."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Profile(models.Model):
    """What one user chose for themselves (none of it grants anything)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    #: The IANA zone the console shows this user's times in; blank: the site's TIME_ZONE.
    time_zone = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"profile of user {self.user_id}"
