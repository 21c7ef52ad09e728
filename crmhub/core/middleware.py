"""Show every time in the signed-in user's zone (their profile), else the site's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from crmhub.core.selectors import profile_time_zone
from crmhub.core.times import zone_of

#: The session keeps the user's zone name, read from their profile once per session.
SESSION_KEY = "crmhub_time_zone"


def time_zone_remember(request: HttpRequest, name: str) -> None:
    """Keep ``name`` as this session's zone (after the user changed their profile)."""
    request.session[SESSION_KEY] = name


def time_zone_on_sign_in(sender: object, request: HttpRequest | None, user: Any, **_: Any) -> None:
    """Read the zone of a user who just signed in into their new session (``user_logged_in``)."""
    if request is not None and hasattr(request, "session"):
        time_zone_remember(request, profile_time_zone(user=user))


class UserTimeZoneMiddleware:
    """Activate the user's zone for the request (templates and forms read times in it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = zone_of(self._zone_name(request))
        if zone is not None:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    @staticmethod
    def _zone_name(request: HttpRequest) -> str:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return ""
        name = request.session.get(SESSION_KEY)
        if name is None:
            name = profile_time_zone(user=user)
            time_zone_remember(request, name)
        return str(name)
