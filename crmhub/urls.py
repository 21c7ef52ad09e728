from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from crmhub.core.views import AdminLoginForm, LoginForm, favicon

admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=LoginForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("favicon.ico", favicon, name="favicon"),
    path("", include("crmhub.console.urls")),
]
# The sandbox CRMs beside the console in one process; with CRMHUB_WEB_ROLE=console they are
# served by a process of their own (``crmhub.urls_sandbox``).
if settings.CRMHUB_SANDBOX and settings.CRMHUB_WEB_ROLE == "all":
    urlpatterns.append(path("sandbox/", include("crmhub.sandbox.urls")))
