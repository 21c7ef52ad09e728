"""The form of an act whose CRM names no form class: built from the declared params."""

from __future__ import annotations

from django import forms

from crmhub.connections.kinds import Operation, Param
from crmhub.console.forms.base import ActForm


def _field(param: Param) -> forms.Field:
    label, required, help_text = param.title, param.required, param.help_text
    widget: forms.Widget | None = forms.HiddenInput() if param.hidden else None
    if param.type == "integer":
        return forms.IntegerField(
            min_value=0, label=label, required=required, help_text=help_text, widget=widget
        )
    if param.type == "choice":
        choices = list(param.choices) if required else [("", "—"), *param.choices]
        return forms.ChoiceField(
            choices=choices, label=label, required=required, help_text=help_text, widget=widget
        )
    if param.type == "long_text" and widget is None:
        widget = forms.Textarea({"rows": 3})
    return forms.CharField(
        max_length=param.max_length,
        label=label,
        required=required,
        help_text=help_text,
        widget=widget,
    )


def declared_form(kind: str, operation: Operation) -> type[ActForm]:
    """Return an act form with one field per declared param of ``operation``."""
    words = [*kind.split("_"), *operation.name.split("_")]
    name = "".join(word.capitalize() for word in words) + "Form"
    fields = {param.name: _field(param) for param in operation.params}
    return type(name, (ActForm,), {**fields, "__module__": __name__})
