"""The acts the console offers: each CRM's declared operations, with their forms and places.

Derived from the declarations (``connections.kinds``): which operations the console offers,
their labels, where their buttons show, which form collects their params (a declared form
class, or one built from the declared params). The rules (what is valid, what is safe to
repeat) stay with the declaration, which ``action_enqueue`` consults before anything is
queued.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.module_loading import import_string

from crmhub.connections import kinds
from crmhub.connections.kinds import ON_CONNECTION, ON_CONTACT, Operation
from crmhub.console.forms.base import ActForm
from crmhub.console.forms.declared import declared_form

__all__ = ["ON_CONNECTION", "ON_CONTACT", "Act"]


@dataclass(frozen=True)
class Act:
    kind: str
    operation: str
    label: str
    form: type[ActForm]
    on: str = ON_CONTACT
    #: Record types it applies to (empty: every type of the kind).
    record_types: tuple[str, ...] = ()
    #: A confirmation question asked before posting (dangerous acts).
    confirm: str = ""
    #: Offered for a selection of contacts (bulk).
    bulk: bool = False
    #: Shown among a record's act buttons (others are reached from their own list).
    button: bool = True
    #: A read (safe): its latest result feeds a page region.
    read: bool = False
    #: The submit button's text (the label when empty).
    submit: str = ""
    #: Shown once it succeeded (what happens next).
    after: str = ""
    #: Fields left out of the bulk form (they differ per contact).
    not_in_bulk: tuple[str, ...] = ()
    #: The read whose latest result gives the form its choices (e.g. getConfigData).
    choices_from: str = ""

    @property
    def inline(self) -> bool:
        """Whether the act asks staff nothing (one button posts it, hidden values only)."""
        return all(field.widget.is_hidden for field in self.form.base_fields.values())


def _act(kind: str, operation: Operation) -> Act | None:
    hints = operation.act
    if hints is None:
        return None
    form = import_string(hints.form) if hints.form else declared_form(kind, operation)
    return Act(
        kind=kind,
        operation=operation.name,
        label=hints.label or operation.label,
        form=form,
        on=hints.on,
        record_types=operation.record_types,
        confirm=hints.confirm,
        bulk=operation.bulk,
        button=hints.button,
        read=hints.read,
        submit=hints.submit,
        after=hints.after,
        not_in_bulk=hints.not_in_bulk,
        choices_from=hints.choices_from,
    )


_table: tuple[int, dict[tuple[str, str], Act]] | None = None


def _acts() -> dict[tuple[str, str], Act]:
    """Return every act by ``(kind, operation)``, built again when the kinds change."""
    global _table
    version = kinds.version()
    if _table is None or _table[0] != version:
        table = {}
        for crm in kinds.KINDS.values():
            for operation in crm.operations:
                act = _act(crm.kind, operation)
                if act is not None:
                    table[(crm.kind, operation.name)] = act
        _table = (version, table)
    return _table[1]


def all_acts() -> list[Act]:
    """Return every act the console offers, CRM by CRM in their declared order."""
    return list(_acts().values())


def act_for(kind: str, operation: str, *, on: str | None = None) -> Act | None:
    """Return the act ``operation`` of ``kind`` (reached ``on`` a contact or a connection)."""
    act = _acts().get((kind, operation))
    if act is None or (on is not None and act.on != on):
        return None
    return act


def after_for(kind: str, operation: str) -> str:
    """Return what staff should know once the act succeeded ("" when nothing)."""
    act = _acts().get((kind, operation))
    return act.after if act else ""


def label_for(kind: str, operation: str) -> str:
    """Return the human label of an operation (its name when the console has no act)."""
    act = _acts().get((kind, operation))
    return act.label if act else operation.replace("_", " ").capitalize()


def contact_buttons(kind: str, record_type: str) -> list[Act]:
    """Return the act buttons that fit a record of ``kind`` and ``record_type``."""
    return [
        act
        for act in all_acts()
        if act.kind == kind
        and act.on == ON_CONTACT
        and act.button
        and (not act.record_types or record_type in act.record_types)
    ]


def connection_buttons(kind: str) -> list[Act]:
    """Return the acts started from a connection (e.g. a new Apptivo customer)."""
    return [a for a in all_acts() if a.kind == kind and a.on == ON_CONNECTION and a.button]


def bulk_acts(kind: str) -> list[Act]:
    """Return the acts offered for a selection of contacts of ``kind``."""
    return [act for act in all_acts() if act.kind == kind and act.bulk]
