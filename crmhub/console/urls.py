from __future__ import annotations

from django.urls import path

from crmhub.console import views

app_name = "console"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
