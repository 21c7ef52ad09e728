"""Collect! acts: run a contact plan (which may prompt), answer a prompt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms

from crmhub.console.forms.base import ActForm


class RunPlanForm(ActForm):
    plan = forms.CharField(
        label="Plan code",
        max_length=20,
        help_text="The contact plan's code in Collect!, e.g. REV.",
    )

    def setup(self) -> None:
        self.record_type = self.contact.record_type if self.contact else ""

    def adjust(self, values: dict[str, Any]) -> dict[str, Any]:
        values["plan"] = values["plan"].strip()
        return values


_FIELD_TYPES: dict[str, tuple[type[forms.Field], dict[str, str]]] = {
    "date": (forms.DateField, {"type": "date"}),
    "datetime": (forms.DateTimeField, {"type": "datetime-local"}),
    "number": (forms.DecimalField, {}),
    "integer": (forms.IntegerField, {}),
    "bool": (forms.BooleanField, {}),
    "boolean": (forms.BooleanField, {}),
    "confirm": (forms.BooleanField, {}),
}


class PromptAnswerForm(forms.Form):
    """The fields a running plan asked for, built from the prompt it sent."""

    def __init__(self, data: Mapping[str, Any] | None = None, *, prompt: Mapping[str, Any]):
        super().__init__(data, prefix="answer")
        for number, spec in enumerate(prompt.get("fields") or ()):
            self._add(number, spec if isinstance(spec, Mapping) else {"name": str(spec)})
        if not self.fields:
            self.fields["confirm"] = forms.BooleanField(label="Continue the plan", required=False)

    def _add(self, number: int, spec: Mapping[str, Any]) -> None:
        name = str(spec.get("name") or spec.get("id") or f"field{number}")
        label = str(spec.get("label") or spec.get("message") or name.replace("_", " ").title())
        choices = spec.get("choices") or spec.get("options")
        if choices:
            pairs: list[Any] = [c if isinstance(c, list | tuple) else (c, c) for c in choices]
            field: forms.Field = forms.ChoiceField(label=label, choices=pairs)
        else:
            kind = str(spec.get("type") or "text").lower()
            cls, attrs = _FIELD_TYPES.get(kind, (forms.CharField, {}))
            field = cls(label=label, widget=cls.widget(attrs=attrs) if attrs else None)
        field.required = bool(spec.get("required", not isinstance(field, forms.BooleanField)))
        if spec.get("default") is not None:
            field.initial = spec["default"]
        self.fields[name] = field

    def values(self) -> dict[str, Any]:
        """Return the answer values as JSON-safe text, numbers and booleans."""
        clean: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if hasattr(value, "isoformat"):
                value = value.isoformat()
            elif value is not None and not isinstance(value, bool | int | str):
                value = str(value)
            clean[name] = value
        return clean
