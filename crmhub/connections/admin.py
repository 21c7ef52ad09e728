from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from crmhub.connections import services
from crmhub.connections.choices import choice_list, list_name_choices
from crmhub.connections.forms import COMMON_FIELDS, ConnectionForm
from crmhub.connections.kinds import KINDS, kind_choices
from crmhub.connections.models import Connection, ConnectionChoice, Health
from crmhub.core import publishing
from crmhub.core.admin import DeactivateInsteadMixin
from crmhub.core.publishing import BROKER_DOWN
from crmhub.core.times import moment_text

UNREADABLE_NOTE = (
    "The stored credentials cannot be decrypted with the current CRMHUB_FIELD_KEYS (the key "
    "they were encrypted with is gone). Type every credential again and save; "
    "`manage.py check_field_keys` lists every connection in this state."
)

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec


class KindFilter(admin.SimpleListFilter):
    """Filter by CRM, named as the registered CRMs name themselves."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return kind_choices()

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(kind=self.value()) if self.value() else queryset


class ConnectionChoiceForm(forms.ModelForm):
    list_name = forms.ChoiceField(label="List", choices=list_name_choices)

    class Meta:
        model = ConnectionChoice
        fields = ["list_name", "value", "note"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        # The inline formset gives the row its connection through this field (even unsaved).
        parent = self.fields.get("connection")
        connection = getattr(parent, "parent_instance", None)
        name = data.get("list_name")
        if connection is not None and name and choice_list(connection.kind, name) is None:
            self.add_error("list_name", f"A {connection.kind} connection has no such list.")
        return data


class ConnectionChoiceInline(admin.TabularInline):
    """The values staff choose from where the CRM cannot list them (action sets, templates)."""

    model = ConnectionChoice
    form = ConnectionChoiceForm
    extra = 1
    verbose_name = "choice"
    verbose_name_plural = (
        "Choice lists: action sets (AllClients), contact plans (Collect!, besides those it "
        "lists), communication templates (CRM.COM)"
    )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("connections.manage_connection")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("connections.manage_connection")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("connections.manage_connection")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("connections.manage_connection")


@admin.register(Connection)
class ConnectionAdmin(DeactivateInsteadMixin, admin.ModelAdmin):
    form = ConnectionForm
    inlines = [ConnectionChoiceInline]
    deactivate_reason = (
        "Its contacts, actions and sync runs are the record of what was done through it, so "
        "it cannot be deleted. Deactivating it stops its syncs and refuses new acts; its "
        "history stays, and it can be switched on again on its page."
    )
    list_display = [
        "name",
        "kind_name",
        "base_url",
        "is_active",
        "health",
        "checked",
        "short_error",
        "throttled",
    ]
    list_filter = [KindFilter, "health", "is_active"]
    search_fields = ["name", "base_url"]
    readonly_fields = [
        "health",
        "health_error",
        "checked",
        "throttled",
        "secrets_status",
    ]
    actions = ["test_connection", "sync_now"]

    def deactivate(self, request: HttpRequest, obj: Connection) -> None:
        services.connection_deactivate(connection=obj, user=request.user)

    @admin.display(description="Kind", ordering="kind")
    def kind_name(self, obj: Connection) -> str:
        return obj.kind_label

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        """Return the choice lists' inline, except for a post that does not carry them.

        A form posted without the lists' part (a script that saves the settings alone)
        leaves the lists as they are instead of failing on the missing formset.
        """
        if request.method == "POST" and "choices-TOTAL_FORMS" not in request.POST:
            return []
        return super().get_inline_instances(request, obj)

    @admin.display(description="Checked", ordering="health_checked_at")
    def checked(self, obj: Connection) -> str:
        return moment_text(obj.health_checked_at) or "never"

    @admin.display(description="Throttled until", ordering="throttled_until")
    def throttled(self, obj: Connection) -> str:
        return moment_text(obj.throttled_until) or "—"

    @admin.display(description="Last error")
    def short_error(self, obj: Connection) -> str:
        return (obj.health_error[:80] + "…") if len(obj.health_error) > 80 else obj.health_error

    @admin.display(description="Credentials")
    def secrets_status(self, obj: Connection) -> str:
        if obj.pk and not obj.secrets_readable():
            return UNREADABLE_NOTE
        names = obj.secret_names_set() if obj.pk else []
        return ", ".join(f"{name}: set" for name in names) or "none set"

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """Say so on the page when the stored credentials cannot be decrypted."""
        obj = self.get_object(request, unquote(object_id))
        if request.method == "GET" and obj is not None and not obj.secrets_readable():
            self.message_user(request, UNREADABLE_NOTE, messages.WARNING)
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """Ask for the kind first: each kind has its own settings and credentials."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "GET" and request.GET.get("kind") not in KINDS:
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "kinds": list(KINDS.values()),
                "title": "Add connection: choose the CRM",
            }
            return TemplateResponse(request, "admin/connections/choose_kind.html", context)
        return super().add_view(request, form_url, extra_context)

    def get_form(
        self,
        request: HttpRequest,
        obj: Connection | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[ConnectionForm]:
        kind = request.GET.get("kind") if obj is None else obj.kind
        may_allow_private = request.user.is_superuser
        # The kind's fields are added per form instance; the model fields are fixed here so
        # that Django does not derive them from the fieldsets (which name the kind's fields).
        kwargs["fields"] = COMMON_FIELDS
        base = super().get_form(request, obj, change=change, **kwargs)

        class BoundForm(base):  # type: ignore[valid-type, misc]  # a class Django builds at run time
            def __init__(self, *args: Any, **inner: Any) -> None:
                super().__init__(
                    *args,
                    kind=kind if kind in KINDS else None,
                    may_allow_private=may_allow_private,
                    **inner,
                )

        return BoundForm

    def get_fieldsets(self, request: HttpRequest, obj: Connection | None = None) -> _FieldsetSpec:
        form = self.get_form(request, obj)(instance=obj)
        kind_fields = tuple(n for n in form.fields if n.startswith(("setting_", "secret_")))
        return [
            (None, {"fields": ["name", "kind", "base_url", "is_active"]}),
            (f"{form.kind_info.label} settings and credentials", {"fields": kind_fields}),
            (
                "Limits and schedule",
                {
                    "fields": [
                        "rate_limit",
                        "daily_quota",
                        "country",
                        "sync_interval_minutes",
                        "full_sync_interval_hours",
                    ]
                },
            ),
            ("Network", {"fields": ["allow_private_network", "allow_link_local"]}),
            (
                "Health",
                {
                    "fields": [
                        "health",
                        "health_error",
                        "checked",
                        "throttled",
                        "secrets_status",
                    ]
                },
            ),
        ]

    def save_model(
        self, request: HttpRequest, obj: Connection, form: ConnectionForm, change: bool
    ) -> None:
        services.connection_save(
            connection=obj,
            settings=form.kind_settings(),
            new_secrets=form.new_secrets(),
            may_allow_private=request.user.is_superuser,
            user=request.user,
        )

    @admin.action(description="Test connection (checks the credentials in a worker)")
    def test_connection(self, request: HttpRequest, queryset: Any) -> None:
        """Check each connection in a worker and say what came back, and when."""
        asked = timezone.now()
        connections = list(queryset)
        with publishing.watch() as watch:
            for connection in connections:
                services.connection_check_request(connection=connection)
        if watch.broker_down:
            self.message_user(request, f"Test connection: {BROKER_DOWN}", messages.WARNING)
            return
        answered = services.connection_checks_wait(
            connection_ids=[c.pk for c in connections], since=asked
        )
        for connection in connections:
            self._say_check(request, connection, answered.get(connection.pk), asked)

    def _say_check(
        self, request: HttpRequest, connection: Connection, checked: Connection | None, asked: Any
    ) -> None:
        if checked is None:
            self.message_user(
                request,
                f"Test connection: {connection.name}: no answer from the worker within "
                f"{services.CHECK_WAIT_SECONDS:g} s of {moment_text(asked)} (it may be busy "
                "or stopped); the Health column shows the result once it comes.",
                messages.WARNING,
            )
            return
        result = checked.get_health_display()
        if checked.health_error:
            result += f": {checked.health_error}"
        self.message_user(
            request,
            f"Test connection: {connection.name}: {result} (checked "
            f"{moment_text(checked.health_checked_at)}).",
            messages.SUCCESS if checked.health == Health.OK else messages.ERROR,
        )

    @admin.action(description="Sync now")
    def sync_now(self, request: HttpRequest, queryset: Any) -> None:
        from crmhub.contacts.services import sync_request

        with publishing.watch() as watch:
            for connection in queryset:
                sync_request(
                    connection=connection, mode="full", requested_by=request.user.get_username()
                )
        if watch.broker_down:
            self.message_user(request, f"Sync now: {BROKER_DOWN}", messages.WARNING)
            return
        self.message_user(
            request, f"Sync queued for {queryset.count()} connection(s).", messages.INFO
        )

    def has_view_permission(self, request: HttpRequest, obj: Connection | None = None) -> bool:
        # The console shows connections to every role (view_connection); these admin pages
        # are where credentials are managed: connection admins only.
        return request.user.has_perm("connections.manage_connection")

    def has_change_permission(self, request: HttpRequest, obj: Connection | None = None) -> bool:
        return request.user.has_perm("connections.manage_connection")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("connections.manage_connection")

    def has_delete_permission(self, request: HttpRequest, obj: Connection | None = None) -> bool:
        return request.user.has_perm("connections.manage_connection")
