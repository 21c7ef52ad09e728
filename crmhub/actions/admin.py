"""The audit view of actions and batches: read-only, never deletable."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from crmhub.actions.models import Action, Attempt, Batch
from crmhub.core.admin import ReadOnlyAdmin
from crmhub.core.redaction import redact_value


def _pretty(value: Any) -> str:
    text = json.dumps(redact_value(value), indent=2, ensure_ascii=False, default=str)
    return format_html('<pre class="crmhub-json">{}</pre>', text)


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    fields = ("number", "outcome", "started_at", "finished_at", "task_id", "error", "calls_shown")
    readonly_fields = fields

    @admin.display(description="Requests and responses (redacted)")
    def calls_shown(self, attempt: Attempt) -> str:
        return _pretty(attempt.calls)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Action)
class ActionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "operation",
        "connection",
        "contact",
        "state",
        "attempts",
        "requested_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("state", "operation", "connection", "requested_by", "created_at")
    list_select_related = ("connection", "contact", "requested_by")
    search_fields = ("=id", "=idempotency_key", "=task_id")
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [AttemptInline]
    fields = (
        "operation",
        "safe",
        "connection",
        "contact",
        "state",
        "error",
        "result_shown",
        "params_shown",
        "prompt_shown",
        "idempotency_key",
        "requested_by",
        "batch",
        "resend_of",
        "attempts",
        "deliveries",
        "not_before",
        "published_at",
        "lease_until",
        "created_at",
        "updated_at",
        "finished_at",
        "task_id",
    )
    readonly_fields = fields

    @admin.display(description="Parameters")
    def params_shown(self, action: Action) -> str:
        return _pretty(action.params)

    @admin.display(description="Result")
    def result_shown(self, action: Action) -> str:
        return _pretty(action.result)

    @admin.display(description="Prompt and answer")
    def prompt_shown(self, action: Action) -> str:
        return _pretty({"prompt": action.prompt, "answer": action.answer})


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "operation", "connection", "size", "state", "created_by", "created_at")
    list_filter = ("state", "operation", "connection", "created_by", "created_at")
    list_select_related = ("connection", "created_by")
    date_hierarchy = "created_at"
    fields = (
        "operation",
        "connection",
        "state",
        "size",
        "totals",
        "skipped",
        "params",
        "search_query",
        "search_filters",
        "created_by",
        "created_at",
        "finished_at",
    )
    readonly_fields = fields
