"""The simulated Collect! REST API, mounted at ``/sandbox/collect/``."""

from __future__ import annotations

from django.urls import path

from crmhub.sandbox.collect import views

BASE_PATH = "api/v1/"

urlpatterns = [
    path(f"{BASE_PATH}auth/login", views.login, name="sandbox-collect-login"),
    path(f"{BASE_PATH}collect/data/<str:table>", views.data_list, name="sandbox-collect-list"),
    path(
        f"{BASE_PATH}collect/data/<str:table>/<str:rowid>",
        views.data_show,
        name="sandbox-collect-show",
    ),
    path(f"{BASE_PATH}collect/app/runplan", views.runplan, name="sandbox-collect-runplan"),
]
