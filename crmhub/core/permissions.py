"""Permissions read in one query: every console page checks one on every request."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission


class PermissionBackend(ModelBackend):
    """Django's ``ModelBackend`` that reads a user's own and their groups' permissions in
    one query (``ModelBackend`` runs one for each) the first time a request checks one."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        """Return the ``app_label.codename`` of every permission ``user_obj`` has."""
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            fields = ("content_type__app_label", "codename")
            if user_obj.is_superuser:
                rows = Permission.objects.values_list(*fields)
            else:
                own = Permission.objects.filter(user=user_obj).values_list(*fields)
                grouped = Permission.objects.filter(group__user=user_obj).values_list(*fields)
                rows = own.order_by().union(grouped.order_by())
            user_obj._perm_cache = {f"{app}.{codename}" for app, codename in rows}
        return user_obj._perm_cache
