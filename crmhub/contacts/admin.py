"""Admin views of the contact index: read-only; the syncs are the only writers."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from crmhub.contacts.models import Contact, Person, SyncRun
from crmhub.contacts.normalize import email_key
from crmhub.core.admin import ReadOnlyAdmin


class ContactInline(admin.TabularInline):
    model = Contact
    fields = ("connection", "remote_id", "record_type", "full_name", "matched_by", "deleted_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "connection",
        "record_type",
        "company",
        "person",
        "deleted_at",
        "synced_at",
    )
    list_filter = ("connection__kind", "connection", "record_type", "deleted_at")
    list_select_related = ("connection", "person")
    search_help_text = "An email address (exact, any case) or a remote id."
    search_fields = ("remote_id",)
    show_full_result_count = False
    exclude = ("search_names", "search_other", "search_phones")
    raw_id_fields = ("person",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Contact], search_term: str
    ) -> tuple[QuerySet[Contact], bool]:
        """Search by normalised email key (indexed) or remote id; never a table scan."""
        term = search_term.strip()
        if not term:
            return queryset, False
        key = email_key(term)
        if key:
            return queryset.filter(keys__type="email", keys__value=key), True
        return queryset.filter(remote_id=term), False


@admin.register(Person)
class PersonAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "created_at", "updated_at")
    search_fields = ("display_name__istartswith",)
    inlines = [ContactInline]


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "connection",
        "mode",
        "state",
        "requested_by",
        "pages",
        "fetched",
        "created",
        "updated",
        "unchanged",
        "deleted",
        "missing",
        "progress_text",
        "short_error",
    )
    list_filter = ("state", "mode", "connection")
    list_select_related = ("connection",)
    actions = ["rerun_allowing_deletions"]
    date_hierarchy = "created_at"

    @admin.display(description="progress")
    def progress_text(self, run: SyncRun) -> str:
        return "" if run.progress is None else f"{run.progress}%"

    @admin.display(description="error")
    def short_error(self, run: SyncRun) -> str:
        return run.error[:120]

    @admin.action(description="Re-run allowing deletions (at most those this run found)")
    def rerun_allowing_deletions(self, request: HttpRequest, queryset: QuerySet[SyncRun]) -> None:
        from crmhub.contacts.services import sync_deletions_confirm

        if not request.user.has_perm("connections.manage_connection"):
            self.message_user(request, "Only connection admins may do this.", messages.ERROR)
            return
        flagged = queryset.filter(state=SyncRun.State.FLAGGED).select_related("connection")
        latest: dict[int, SyncRun] = {}
        for run in flagged.order_by("created_at", "pk"):  # the latest flagged run of each
            latest[run.connection_id] = run
        for run in latest.values():
            queued, new = sync_deletions_confirm(
                flagged=run, requested_by=request.user.get_username()
            )
            if new:
                self.message_user(
                    request,
                    f"Full sync of {run.connection} queued: it applies at most the "
                    f"{run.missing} deletions run {run.pk} found.",
                )
            else:
                self.message_user(
                    request,
                    f"A sync of {run.connection} is already {queued.get_state_display().lower()}"
                    f" (run {queued.pk}): nothing was queued or confirmed. Once it ends, "
                    "confirm again if it is flagged.",
                    messages.WARNING,
                )
        if not latest:
            self.message_user(request, "Choose flagged runs.", messages.WARNING)
