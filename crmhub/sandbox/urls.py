"""Mount each simulated CRM under /sandbox/<kind>/."""

from __future__ import annotations

from django.urls import include, path

from crmhub.sandbox.registry import KINDS, module

urlpatterns = [path(f"{kind}/", include(module(kind).urlpatterns)) for kind in KINDS]
