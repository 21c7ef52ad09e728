"""The form of an act whose CRM names no form class: built from the declared params."""

from __future__ import annotations

from django import forms

from crmhub.connections.kinds import Operation, Param
from crmhub.console.forms.base import ActForm


def _field(param: Param) -> forms.Field:
    options = {"label": param.title, "required": param.required, "help_text": param.help_text}
    field: forms.Field
    if param.type == "integer":
        field = forms.IntegerField(min_value=0, **options)
    elif param.type == "choice":
        choices = list(param.choices) if param.required else [("", "—"), *param.choices]
        field = forms.ChoiceField(choices=choices, **options)
    elif param.type == "long_text":
        field = forms.CharField(
            max_length=param.max_length, widget=forms.Textarea({"rows": 3}), **options
        )
    else:
        field = forms.CharField(max_length=param.max_length, **options)
    if param.hidden:
        field.widget = forms.HiddenInput()
    return field


def declared_form(kind: str, operation: Operation) -> type[ActForm]:
    """Return an act form with one field per declared param of ``operation``."""
    words = [*kind.split("_"), *operation.name.split("_")]
    name = "".join(word.capitalize() for word in words) + "Form"
    fields = {param.name: _field(param) for param in operation.params}
    return type(name, (ActForm,), {**fields, "__module__": __name__})
