"""Apptivo acts: create, edit and delete a customer, with choices from getConfigData."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from crmhub.console.forms.base import ActForm, choices_from

_STATUS_IDS = ("id", "statusId", "status_id", "value")
_STATUS_NAMES = ("name", "statusName", "status_name", "label")
_CATEGORY_IDS = ("id", "categoryId", "category_id", "customerCategoryId", "value")
_CATEGORY_NAMES = ("name", "categoryName", "category_name", "customerCategory", "label")


class CustomerFields(ActForm):
    """The customer fields staff can set; status and category from the latest config."""

    customer_name = forms.CharField(label="Customer name", max_length=200)
    status_id = forms.ChoiceField(label="Status", required=False, choices=[("", "—")])
    category_id = forms.ChoiceField(label="Category", required=False, choices=[("", "—")])
    email = forms.EmailField(label="Email", required=False)
    phone = forms.CharField(label="Phone", required=False, max_length=40)
    description = forms.CharField(
        label="Description", required=False, max_length=2000, widget=forms.Textarea({"rows": 3})
    )

    def setup(self) -> None:
        config = self.extra.get("config") or {}
        self.has_config = bool(config)
        self.choice_field("status_id").choices = choices_from(
            config.get("statuses"), id_keys=_STATUS_IDS, name_keys=_STATUS_NAMES
        )
        self.choice_field("category_id").choices = choices_from(
            config.get("categories"), id_keys=_CATEGORY_IDS, name_keys=_CATEGORY_NAMES
        )


class CreateCustomerForm(CustomerFields):
    pass


def _contact_initial(contact: Any) -> dict[str, Any]:
    raw = contact.raw or {}
    return {
        "customer_name": raw.get("customerName") or contact.display_name,
        "status_id": str(raw.get("statusId") or ""),
        "category_id": str(raw.get("customerCategoryId") or raw.get("categoryId") or ""),
        "email": contact.emails[0] if contact.emails else "",
        "phone": contact.phones[0] if contact.phones else "",
        "description": raw.get("description") or "",
    }


class UpdateCustomerForm(CustomerFields):
    """Edit a customer: only the fields changed from what the index holds are sent."""

    def setup(self) -> None:
        super().setup()
        self.fields["customer_name"].required = False
        if self.contact is not None:
            self.initial = _contact_initial(self.contact)
            self._ensure_choice("status_id", self.initial["status_id"])
            self._ensure_choice("category_id", self.initial["category_id"])

    def _ensure_choice(self, name: str, value: str) -> None:
        field = self.choice_field(name)
        choices = cast("list[tuple[str, str]]", field.choices)  # set as such by setup()
        if value and value not in {str(choice[0]) for choice in choices}:
            field.choices = [*choices, (value, f"Current ({value})")]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.changed_data:
            raise forms.ValidationError("Nothing changed: edit a field first.")
        return cleaned

    def params(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) or "" for name in self.changed_data}


class DeleteCustomerForm(ActForm):
    """Delete a customer; the button asks for confirmation before it posts."""
