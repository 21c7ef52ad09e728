from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone

from crmhub.core import roles as role_rules


def roles(request: HttpRequest) -> dict[str, bool]:
    """Expose what the signed-in user may do, so templates show only their buttons."""
    user = request.user
    return {
        "can_act": role_rules.can_act(user),
        "can_correct": role_rules.can_correct(user),
        "can_manage_connections": role_rules.can_manage_connections(user),
    }


def time_zone(request: HttpRequest) -> dict[str, str]:
    """Name the zone the page's times are written in (the user's, else the site's)."""
    return {"time_zone_name": timezone.get_current_timezone_name()}
