from __future__ import annotations

from typing import Any

from django.contrib.auth.models import (
    AbstractBaseUser,
    AbstractUser,
    AnonymousUser,
    Group,
    Permission,
)
from django.db.models import Q

from crmhub.core.models import Profile
from crmhub.core.roles import ROLE_PERMISSIONS
from crmhub.core.times import zone_of


def user_deactivate(*, user: AbstractUser) -> None:
    """Stop ``user`` signing in (their sessions end too); their history keeps their name."""
    type(user)._default_manager.filter(pk=user.pk).update(is_active=False)
    user.is_active = False


def profile_save(*, user: AbstractBaseUser | AnonymousUser, time_zone: str) -> Profile:
    """Save ``user``'s own settings: the zone their times are shown in ("" for the site's).

    Raises ``ValueError`` for a zone name this machine does not know, or nobody signed in.
    """
    if not user.is_authenticated:
        raise ValueError("Only a signed-in user has a profile.")
    if time_zone and zone_of(time_zone) is None:
        raise ValueError(f"Unknown time zone {time_zone!r}.")
    profile, _ = Profile.objects.update_or_create(
        user_id=user.pk, defaults={"time_zone": time_zone}
    )
    return profile


def roles_ensure(**_: Any) -> None:
    """Create the viewer / operator / admin groups and give each exactly its permissions.

    Runs after every migration (permissions of apps migrated later appear on a later call),
    so a new permission in ``ROLE_PERMISSIONS`` reaches existing installs.
    """
    for role, names in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        query = Q()
        for name in names:
            app_label, codename = name.split(".", 1)
            query |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(query))
