"""Admin pages of the simulated CRMs: inject faults, read the ledger (superusers only)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from crmhub.core.admin import ReadOnlyAdmin
from crmhub.sandbox.models import KIND_CHOICES, Call, Fault


class SuperuserOnly(admin.ModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_superuser


class FaultForm(forms.ModelForm):
    """A fault of one simulated CRM, chosen among the registered ones."""

    kind = forms.ChoiceField(label="Kind", choices=KIND_CHOICES)

    class Meta:
        model = Fault
        fields = [
            "kind",
            "latency_ms",
            "error_rate",
            "error_status",
            "rate_limit_rate",
            "retry_after",
            "timeout_rate",
            "timeout_after_apply",
            "hang_seconds",
            "malformed_rate",
            "xml_attack",
            "fail_next",
            "xml_indent",
            "hide_undocumented",
        ]


@admin.register(Fault)
class FaultAdmin(SuperuserOnly):
    form = FaultForm
    list_display = [
        "kind",
        "latency_ms",
        "error_rate",
        "rate_limit_rate",
        "timeout_rate",
        "malformed_rate",
        "xml_attack",
        "fail_next",
        "xml_indent",
        "hide_undocumented",
        "updated_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_superuser


@admin.register(Call)
class CallAdmin(SuperuserOnly, ReadOnlyAdmin):
    """The ledger of what each simulated CRM received (never credentials); read-only."""

    list_display = ["created_at", "kind", "operation", "status", "applied", "effect"]
    list_filter = ["kind", "operation", "applied", "status"]
    search_fields = ["effect"]
    readonly_fields = ["kind", "operation", "params", "effect", "applied", "status", "created_at"]
