"""The communication queue: list, get_latest, get_pending_completed, show, process, reject, remove.

List calls need exactly one of ``communication_queue_external_system_identifier`` and
``media``. Process (PENDING -> COMPLETED) and reject (PENDING -> REJECTED, with an error code
and description) apply to pending entries only (assumption: the documents do not say);
remove ("Completed and Removed") only to PENDING or COMPLETED ones (documented).
``get_pending_completed`` answers the PENDING and COMPLETED entries whose communication was
not yet viewed, newest first (assumption from "pending to be viewed and completed").
"""

from __future__ import annotations

from typing import Any

from crmhub.sandbox.crmcom import render, store
from crmhub.sandbox.crmcom.api import (
    INVALID_LIFE_CYCLE_STATE,
    MEDIA,
    ApiError,
    Outcome,
    check_known,
    choice,
    invalid,
    missing,
    paging,
    text,
    whole,
)
from crmhub.sandbox.crmcom.assumptions import ASSUMPTIONS
from crmhub.sandbox.crmcom.endpoint import endpoint
from crmhub.sandbox.models import Record

STATES = ("PENDING", "REJECTED", "COMPLETED", "COMPLETED_AND_REMOVED")
SOURCE = {"communication_queue_external_system_identifier", "media"}
FILTERS = {*SOURCE, "contact_information_identifier", "fields_set"}


def _entry(params: dict[str, Any]) -> Record:
    record = store.resolve(params, "communication_queue_identifier", store.QUEUE, required=True)
    assert record is not None
    return record


def _show_all(rows: list[Record]) -> list[dict[str, Any]]:
    comms = store.by_remote_id(store.COMMUNICATION, (r.data["communication"] for r in rows))
    contacts = store.by_remote_id(store.CONTACT, (r.data.get("contact") for r in rows))
    fixed = render.Fixed()
    return [
        render.queue_entry(
            r, comms.get(r.data["communication"]), contacts.get(r.data.get("contact")), fixed
        )
        for r in rows
    ]


def _filtered(params: dict[str, Any]) -> Any:
    """Return the queue filtered by its semi-optional source and optional contact."""
    given = [name for name in SOURCE if params.get(name) not in (None, "")]
    if len(given) != 1:
        raise invalid(
            "media",
            "give exactly one of communication_queue_external_system_identifier and media.",
        )
    query = store.collection_query(store.QUEUE)
    media = choice(params, "media", MEDIA)
    if media:
        query = query.filter(data__media=media)
    system = store.resolve(
        params,
        "communication_queue_external_system_identifier",
        store.EXTERNAL_SYSTEM,
        required=False,
    )
    if system is not None:
        query = query.filter(data__external_system=system.remote_id)
    contact = store.resolve(params, "contact_information_identifier", store.CONTACT, required=False)
    if contact is not None:
        query = query.filter(data__contact=contact.remote_id)
    return query


def _change(record: Record, allowed: tuple[str, ...], state: str, **fields: Any) -> None:
    current = record.data["life_cycle_state"]
    if current not in allowed:
        number = store.object_number(store.QUEUE, record.remote_id)
        raise ApiError(
            INVALID_LIFE_CYCLE_STATE,
            "Invalid life cycle state",
            f"Queue entry {number} is {current}; only {' or '.join(allowed)} entries qualify.",
        )
    record.data.update(life_cycle_state=state, **fields)
    store.save(record)


@endpoint("communications/queue/show", "GET")
def queue_show(params: dict[str, Any]) -> Outcome:
    check_known(params, {"communication_queue_identifier", "fields_set"})
    return Outcome(_show_all([_entry(params)])[0])


@endpoint("communications/queue/list", "GET")
def queue_list(params: dict[str, Any]) -> Outcome:
    check_known(params, {*FILTERS, "life_cycle_state", "number_of_results", "offset"})
    query = _filtered(params)
    state = choice(params, "life_cycle_state", STATES)
    if state:
        query = query.filter(data__life_cycle_state=state)
    offset, size = paging(params)
    return Outcome(_show_all(store.page(query, offset, size)))


@endpoint("communications/queue/get_latest", "GET")
def queue_get_latest(params: dict[str, Any]) -> Outcome:
    check_known(params, {*FILTERS, "number"})
    if params.get("number") in (None, ""):
        raise missing("number")
    number = whole(params, "number", minimum=1)
    assert number is not None
    query = _filtered(params).filter(data__life_cycle_state="PENDING")
    return Outcome(_show_all(list(query.order_by("-remote_id")[:number])))


@endpoint("communications/queue/get_pending_completed", "GET")
def queue_get_pending_completed(params: dict[str, Any]) -> Outcome:
    check_known(params, {*FILTERS, "number_of_results", "offset"})
    query = _filtered(params).filter(
        data__life_cycle_state__in=("PENDING", "COMPLETED"), data__viewed=False
    )
    offset, size = paging(params)
    return Outcome(_show_all(list(query.order_by("-remote_id")[offset : offset + size])))


@endpoint("communications/queue/process", "POST")
def queue_process(params: dict[str, Any]) -> Outcome:
    check_known(params, {"communication_queue_identifier", "fields_set"})
    record = _entry(params)
    _change(record, ASSUMPTIONS.process_from, "COMPLETED", error_code=None, error_description=None)
    entry_id = store.object_id(store.QUEUE, record.remote_id)
    return Outcome(_show_all([record])[0], effect=f"process:{entry_id}")


@endpoint("communications/queue/reject", "POST")
def queue_reject(params: dict[str, Any]) -> Outcome:
    allowed = {"communication_queue_identifier", "error_code", "error_description"}
    check_known(params, {*allowed, "fields_set"})
    record = _entry(params)
    code = text(params, "error_code", required=True)
    description = text(params, "error_description", required=True)
    _change(
        record, ASSUMPTIONS.process_from, "REJECTED", error_code=code, error_description=description
    )
    entry_id = store.object_id(store.QUEUE, record.remote_id)
    return Outcome(_show_all([record])[0], effect=f"reject:{entry_id}")


@endpoint("communications/queue/remove", "POST")
def queue_remove(params: dict[str, Any]) -> Outcome:
    check_known(params, {"communication_queue_identifier", "fields_set"})
    record = _entry(params)
    _change(record, ("PENDING", "COMPLETED"), "COMPLETED_AND_REMOVED")
    entry_id = store.object_id(store.QUEUE, record.remote_id)
    return Outcome(_show_all([record])[0], effect=f"remove:{entry_id}")
