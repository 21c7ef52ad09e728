from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseClientRedirect


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Send a browser asking for /favicon.ico (a page without a link to it) to the icon."""
    return HttpResponsePermanentRedirect(static("crmhub/favicon.svg"))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Send an htmx request whose session expired back to the login page; 403 otherwise."""
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(reverse("login"))
    return render(request, "403_csrf.html", {"reason": reason}, status=403)


class _UserNameLengthChecked:
    """Refuse an over-long user name as a field error, before anyone tries to sign in.

    Django's sign-in forms only tell the browser the maximum length; a longer name reached
    the authentication backends, and django-axes failed to record the attempt (a server
    error on PostgreSQL, whose column is shorter than what can be typed).
    """

    fields: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["username"]
        field.validators.append(MaxLengthValidator(field.max_length))


class LoginForm(_UserNameLengthChecked, AuthenticationForm):
    """The console's sign-in form."""


class AdminLoginForm(_UserNameLengthChecked, AdminAuthenticationForm):
    """The admin's sign-in form."""
