"""The acts the console offers: which form collects each operation's params, and where.

This is the console's own catalogue (labels, forms, where a button shows); the rules
(what is valid, what is safe to repeat) stay with the connector, which ``action_enqueue``
consults before anything is queued.
"""

from __future__ import annotations

from dataclasses import dataclass

from crmhub.console.forms import allclients, apptivo, collect, crmcom
from crmhub.console.forms.base import ActForm

#: Where an act's button appears: on a contact's record, or on a connection's page.
ON_CONTACT = "contact"
ON_CONNECTION = "connection"


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


_ACTS = (
    Act(
        "allclients",
        "run_action_set",
        "Run action set",
        allclients.RunActionSetForm,
        bulk=True,
        not_in_bulk=("identify_method", "identify_value"),
    ),
    Act("allclients", "add_contact_link", "Add link", allclients.AddContactLinkForm, bulk=True),
    Act(
        "apptivo",
        "update_customer",
        "Edit customer",
        apptivo.UpdateCustomerForm,
        submit="Save changes",
        choices_from="get_config",
        after="The index shows the change after the next sync of the connection.",
    ),
    Act(
        "apptivo",
        "delete_customer",
        "Delete customer",
        apptivo.DeleteCustomerForm,
        confirm="Delete this customer in Apptivo? This cannot be undone.",
        after="The index marks the customer deleted after the next sync of the connection.",
    ),
    Act(
        "apptivo",
        "create_customer",
        "New Apptivo customer",
        apptivo.CreateCustomerForm,
        on=ON_CONNECTION,
        submit="Create customer",
        choices_from="get_config",
        after="The customer appears in the contact search after the next sync of the connection.",
    ),
    Act(
        "apptivo",
        "get_config",
        "Load choices",
        crmcom.ReadForm,
        on=ON_CONNECTION,
        button=False,
        read=True,
    ),
    Act("collect", "run_plan", "Run plan", collect.RunPlanForm, bulk=True),
    Act(
        "crmcom",
        "communication_create",
        "Compose communication",
        crmcom.CommunicationCreateForm,
        bulk=True,
        not_in_bulk=("to",),
    ),
    Act(
        "crmcom",
        "communication_complete",
        "Complete",
        crmcom.CommunicationRefForm,
        button=False,
    ),
    Act(
        "crmcom",
        "communication_set_as_viewed",
        "Mark viewed",
        crmcom.CommunicationRefForm,
        button=False,
    ),
    Act(
        "crmcom",
        "communications_list",
        "Refresh communications",
        crmcom.ReadForm,
        button=False,
        read=True,
    ),
    Act(
        "crmcom",
        "queue_list",
        "Refresh queue",
        crmcom.ReadForm,
        on=ON_CONNECTION,
        button=False,
        read=True,
    ),
    Act(
        "crmcom", "queue_process", "Process", crmcom.QueueEntryForm, on=ON_CONNECTION, button=False
    ),
    Act("crmcom", "queue_reject", "Reject", crmcom.QueueRejectForm, on=ON_CONNECTION, button=False),
    Act(
        "crmcom",
        "queue_remove",
        "Remove",
        crmcom.QueueEntryForm,
        on=ON_CONNECTION,
        button=False,
        confirm="Remove this entry from the queue?",
    ),
)
ACTS: dict[tuple[str, str], Act] = {(act.kind, act.operation): act for act in _ACTS}


def act_for(kind: str, operation: str, *, on: str | None = None) -> Act | None:
    """Return the act ``operation`` of ``kind`` (reached ``on`` a contact or a connection)."""
    act = ACTS.get((kind, operation))
    if act is None or (on is not None and act.on != on):
        return None
    return act


def after_for(kind: str, operation: str) -> str:
    """Return what staff should know once the act succeeded ("" when nothing)."""
    act = ACTS.get((kind, operation))
    return act.after if act else ""


def label_for(kind: str, operation: str) -> str:
    """Return the human label of an operation (its name when the console has no act)."""
    act = ACTS.get((kind, operation))
    return act.label if act else operation.replace("_", " ").capitalize()


def contact_buttons(kind: str, record_type: str) -> list[Act]:
    """Return the act buttons that fit a record of ``kind`` and ``record_type``."""
    return [
        act
        for act in _ACTS
        if act.kind == kind
        and act.on == ON_CONTACT
        and act.button
        and (not act.record_types or record_type in act.record_types)
    ]


def connection_buttons(kind: str) -> list[Act]:
    """Return the acts started from a connection (e.g. a new Apptivo customer)."""
    return [a for a in _ACTS if a.kind == kind and a.on == ON_CONNECTION and a.button]


def bulk_acts(kind: str) -> list[Act]:
    """Return the acts offered for a selection of contacts of ``kind``."""
    return [act for act in _ACTS if act.kind == kind and act.bulk]
