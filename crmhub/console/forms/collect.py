"""Collect! acts: run a contact plan (which may prompt), answer a prompt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.forms import BoundField

from crmhub.actions import answers
from crmhub.console.forms.base import ActForm

#: The two answers of a yes/no prompt, as its buttons send them.
YES_NO = [("yes", "Yes"), ("no", "No")]


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
    """The fields a running plan asked for, built from the prompt it sent.

    A yes/no prompt (one boolean field, or none: "continue?") is answered with a "Yes" and
    a "No" button (``yes_no_field``), never a lone checkbox.
    """

    def __init__(self, data: Mapping[str, Any] | None = None, *, prompt: Mapping[str, Any]):
        super().__init__(data, prefix="answer")
        self.yes_no = answers.yes_no_field(prompt)
        if self.yes_no is not None:
            specs = answers.prompt_fields(prompt)
            label = str((specs[0].get("label") if specs else "") or "Continue the plan")
            self.fields[self.yes_no] = forms.TypedChoiceField(
                label=label,
                choices=YES_NO,
                coerce=lambda value: value == "yes",
                widget=forms.HiddenInput,  # the two buttons carry the value
                error_messages={"required": "Answer with “Yes” or “No”."},
            )
            return
        for number, spec in enumerate(answers.prompt_fields(prompt)):
            self._add(number, spec)

    @property
    def yes_no_field(self) -> BoundField | None:
        """Return the field a "Yes" or "No" button answers, if this is a yes/no prompt."""
        return self[self.yes_no] if self.yes_no is not None else None

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
