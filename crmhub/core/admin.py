"""Admin pieces every app shares (read-only lists, deactivate instead of delete), the user
admin, and the admin's own log (read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse

from crmhub.core.services import user_deactivate


class ReadOnlyAdmin(admin.ModelAdmin):
    """An audit or index list: nobody adds, changes or deletes its rows through the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeactivateInsteadMixin(admin.ModelAdmin):
    """Where a row with history cannot be deleted, offer to deactivate it and say why.

    The delete page of a row that other rows protect (the audit record: actions, batches,
    contacts, sync runs) shows Django's refusal, then ``deactivate_reason`` and a button that
    posts to ``<id>/deactivate/``. Subclasses implement ``deactivate`` with a service.
    """

    delete_confirmation_template = "admin/deactivate_instead.html"
    deactivate_reason = ""

    def deactivate(self, request: HttpRequest, obj: Any) -> None:
        """Switch ``obj`` off (``is_active``), keeping all of its history."""
        raise NotImplementedError

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        extra = [
            path(
                "<path:object_id>/deactivate/",
                self.admin_site.admin_view(self.deactivate_view),
                name="{}_{}_deactivate".format(*info),
            )
        ]
        return extra + super().get_urls()

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        context = {
            **(extra_context or {}),
            "deactivate_reason": self.deactivate_reason,
            "can_deactivate": obj is not None and self.has_change_permission(request, obj),
            "deactivate_url": reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_deactivate",
                args=[quote(obj.pk) if obj is not None else object_id],
                current_app=self.admin_site.name,
            ),
        }
        return super().delete_view(request, object_id, context)

    def deactivate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Deactivate one row (POST only) and go back to its page."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such row.")
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self.deactivate(request, obj)
        self.log_change(request, obj, "Deactivated (kept with its history).")
        self.message_user(request, f"{obj} is deactivated; its history is kept.", messages.SUCCESS)
        change = f"admin:{self.opts.app_label}_{self.opts.model_name}_change"
        return redirect(reverse(change, args=[quote(obj.pk)], current_app=self.admin_site.name))


class UserAdmin(DeactivateInsteadMixin, DjangoUserAdmin):
    """Django's user admin; a user with history is deactivated rather than deleted."""

    deactivate_reason = (
        "The actions and bulk runs this user asked for name them in the audit record, so the "
        "account cannot be deleted. Deactivating it ends their sessions and stops them signing "
        "in; the record keeps their name."
    )

    def deactivate(self, request: HttpRequest, obj: Any) -> None:
        user_deactivate(user=obj)


admin.site.unregister(User)
admin.site.register(User, UserAdmin)


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    """The admin's own log (who added, changed or deleted what): read-only, for superusers
    (no role is given its view permission)."""

    list_display = ("action_time", "user", "content_type", "object_repr", "action_flag")
    list_filter = ("action_flag", "content_type")
    list_select_related = ("user", "content_type")
    search_fields = ("object_repr",)
    date_hierarchy = "action_time"
