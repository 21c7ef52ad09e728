"""What an answer to a Collect! plan's prompt means: a yes/no question, and its "No".

A prompt whose only field is a boolean (or that names no field: "continue?") is a yes/no
question. Answering "No" to it ends the action as cancelled by that person: the plan is
stopped (Collect! rolls back what it had done), which is not a failure of the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Field types of a prompt that take a yes or a no.
YES_NO_TYPES = frozenset({"bool", "boolean", "confirm"})
#: The field asked for when a prompt names none: go on with the plan or not.
CONTINUE_FIELD = "confirm"


def prompt_fields(prompt: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """Return the fields a prompt asks for (a bare name counts as a text field)."""
    fields = (prompt or {}).get("fields") or ()
    return [spec if isinstance(spec, Mapping) else {"name": str(spec)} for spec in fields]


def yes_no_field(prompt: Mapping[str, Any] | None) -> str | None:
    """Return the name of the one yes/no field of ``prompt``, or None if it asks more."""
    fields = prompt_fields(prompt)
    if not fields:
        return CONTINUE_FIELD
    if len(fields) != 1:
        return None
    spec = fields[0]
    kind = str(spec.get("type") or "").lower()
    if kind not in YES_NO_TYPES or spec.get("choices") or spec.get("options"):
        return None
    return str(spec.get("name") or spec.get("id") or "field0")


def says_no(prompt: Mapping[str, Any] | None, values: Mapping[str, Any]) -> bool:
    """Return whether ``values`` answer "No" to the yes/no question ``prompt`` asks."""
    name = yes_no_field(prompt)
    return name is not None and values.get(name) is False
