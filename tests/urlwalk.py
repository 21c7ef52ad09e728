"""List the project's URLs from the URLconf, with sample values for their parameters."""

from __future__ import annotations

import uuid

from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC_PREFIXES = ("login/", "logout/", "admin/", "sandbox/", "static/", "favicon.ico")
SAMPLE = {"int": "1", "str": "x", "slug": "x", "uuid": str(uuid.uuid4()), "path": "x"}


def _walk(patterns, prefix=""):  # type: ignore[no-untyped-def]
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route


def concrete(route: str) -> str:
    """Return ``route`` with each ``<converter:name>`` replaced by a sample value."""
    for converter, value in SAMPLE.items():
        while f"<{converter}:" in route:
            start = route.index(f"<{converter}:")
            route = route[:start] + value + route[route.index(">", start) + 1 :]
    while "<" in route:
        start = route.index("<")
        route = route[:start] + "x" + route[route.index(">", start) + 1 :]
    return "/" + route.lstrip("^").rstrip("$")


def console_urls() -> list[str]:
    """Return every URL of the console (not the admin, login, sandbox or static files)."""
    routes = [r for r in _walk(get_resolver().url_patterns) if not r.startswith(PUBLIC_PREFIXES)]
    return sorted({concrete(r) for r in routes})


def all_routes() -> list[str]:
    """Return the route of every URL pattern (admin, login, sandbox and console alike).

    Routes are returned as written in the URLconf (``contacts/<int:pk>/``, or a regular
    expression for the admin's app index), prefixes included.
    """
    return sorted(set(_walk(get_resolver().url_patterns)))
