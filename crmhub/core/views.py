from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Send an htmx request whose session expired back to the login page; 403 otherwise."""
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(reverse("login"))
    return render(request, "403_csrf.html", {"reason": reason}, status=403)
