"""``communications/show``, ``list``, ``create``, ``update``, ``complete``, ``set_as_viewed``.

Only DRAFT communications can be updated or completed; only COMPLETED ones can be set as
viewed. A communication entering COMPLETED joins the communication queue as PENDING when
its media is EMAIL or SMS (the sandbox has both queue settings enabled) or when it names an
external system (assumption: drafts are not queued until completed).
"""

from __future__ import annotations

import copy
from typing import Any

from crmhub.sandbox.crmcom import compose, render, store
from crmhub.sandbox.crmcom.api import (
    DIRECTIONS,
    INVALID_LIFE_CYCLE_STATE,
    MEDIA,
    ApiError,
    Outcome,
    check_known,
    choice,
    date_value,
    invalid,
    iso,
    java_date,
    now,
    paging,
)
from crmhub.sandbox.crmcom.assumptions import ASSUMPTIONS
from crmhub.sandbox.crmcom.endpoint import endpoint
from crmhub.sandbox.models import Record

QUEUED_MEDIA = ASSUMPTIONS.queued_media


def show(record: Record, fixed: render.Fixed | None = None) -> dict[str, Any]:
    contact = store.get(store.CONTACT, record.data["contact"])
    return render.communication(record, contact, fixed or render.Fixed())


def enqueue(record: Record) -> Record | None:
    """Put a completed communication in the queue (PENDING) when the rules say so."""
    data = record.data
    if data["life_cycle_state"] != "COMPLETED":
        return None
    if data.get("media") not in QUEUED_MEDIA and not data.get("external_system"):
        return None
    return store.create(
        store.QUEUE,
        {
            "communication": record.remote_id,
            "contact": data["contact"],
            "media": data.get("media"),
            "external_system": data.get("external_system"),
            "life_cycle_state": "PENDING",
            "viewed": False,
            "error_code": None,
            "error_description": None,
            "created": iso(now()),
        },
    )


def _require_state(record: Record, state: str, action: str) -> None:
    current = record.data["life_cycle_state"]
    if current != state:
        number = store.object_number(store.COMMUNICATION, record.remote_id)
        raise ApiError(
            INVALID_LIFE_CYCLE_STATE,
            "Invalid life cycle state",
            f"Only {state} communications can be {action}; {number} is {current}.",
        )


def _communication(params: dict[str, Any]) -> Record:
    record = store.resolve(params, "communication_identifier", store.COMMUNICATION, required=True)
    assert record is not None
    return record


@endpoint("communications/show", "GET")
def communication_show(params: dict[str, Any]) -> Outcome:
    check_known(params, {"communication_identifier", "fields_set"})
    return Outcome(show(_communication(params)))


@endpoint("communications/list", "GET")
def communication_list(params: dict[str, Any]) -> Outcome:
    allowed = {"contact_information_identifier", "category_identifier", "direction", "media"}
    check_known(params, {*allowed, "number_of_results", "offset", "fields_set"})
    contact = store.resolve(params, "contact_information_identifier", store.CONTACT, required=False)
    category = store.resolve(params, "category_identifier", store.CATEGORY, required=False)
    if contact is None and category is None:
        raise invalid(
            "contact_information_identifier",
            "give contact_information_identifier or category_identifier (or both).",
        )
    query = store.collection_query(store.COMMUNICATION)
    if contact is not None:
        query = query.filter(data__contact=contact.remote_id)
    if category is not None:
        query = query.filter(data__category=category.remote_id)
    direction = choice(params, "direction", DIRECTIONS)
    if direction:
        query = query.filter(data__direction=direction)
    media = choice(params, "media", MEDIA)
    if media:
        query = query.filter(data__media=media)
    offset, size = paging(params)
    rows = store.page(query, offset, size)
    contacts = store.by_remote_id(store.CONTACT, (r.data["contact"] for r in rows))
    fixed = render.Fixed()
    return Outcome([render.communication(r, contacts.get(r.data["contact"]), fixed) for r in rows])


@endpoint("communications/create", "POST")
def communication_create(params: dict[str, Any]) -> Outcome:
    check_known(params, compose.CREATE_PARAMS)
    contact = store.resolve(params, "contact_information_identifier", store.CONTACT, required=True)
    assert contact is not None
    data: dict[str, Any] = {
        "contact": contact.remote_id,
        "life_cycle_state": "COMPLETED",
        "viewed": 0,
        "created": iso(now()),
    }
    compose.apply_template(data, params)
    compose.apply_fields(data, params, updating=False)
    compose.apply_parameters(data, params.get("unrestricted_parameter_set"), updating=False)
    compose.check_complete(data)
    compose.fill_placeholders(data, contact)
    record = store.create(store.COMMUNICATION, data)
    enqueue(record)
    contact_id = store.object_id(store.CONTACT, contact.remote_id)
    marker = compose.create_marker(contact_id, data["subject"], data["content"])
    return Outcome(show(record), effect=f"create:{marker}")


@endpoint("communications/update", "POST")
def communication_update(params: dict[str, Any]) -> Outcome:
    check_known(params, compose.UPDATE_PARAMS)
    record = _communication(params)
    _require_state(record, "DRAFT", "updated")
    data = copy.deepcopy(record.data)
    compose.apply_template(data, params)
    compose.apply_fields(data, params, updating=True)
    compose.apply_parameters(data, params.get("unrestricted_parameter_set"), updating=True)
    compose.check_complete(data)
    contact = store.get(store.CONTACT, data["contact"])
    if contact is not None:
        compose.fill_placeholders(data, contact)
    record.data = data
    store.save(record)
    enqueue(record)
    number = store.object_number(store.COMMUNICATION, record.remote_id)
    return Outcome(show(record), effect=f"update:{number}")


@endpoint("communications/complete", "POST")
def communication_complete(params: dict[str, Any]) -> Outcome:
    check_known(params, {"communication_identifier", "fields_set"})
    record = _communication(params)
    _require_state(record, "DRAFT", "completed")
    record.data["life_cycle_state"] = "COMPLETED"
    store.save(record)
    enqueue(record)
    number = store.object_number(store.COMMUNICATION, record.remote_id)
    return Outcome(show(record), effect=f"complete:{number}")


@endpoint("communications/set_as_viewed", "POST")
def communication_set_as_viewed(params: dict[str, Any]) -> Outcome:
    check_known(params, {"communication_identifier", "viewed_on", "fields_set"})
    record = _communication(params)
    _require_state(record, "COMPLETED", "set as viewed")
    given = params.get("viewed_on")
    viewed_on = now() if given in (None, "") else date_value(given, "viewed_on")
    record.data.update(viewed=1, viewed_on=java_date(viewed_on))
    store.save(record)
    entries = store.collection_query(store.QUEUE).filter(data__communication=record.remote_id)
    for entry in entries:
        entry.data["viewed"] = True
        store.save(entry)
    number = store.object_number(store.COMMUNICATION, record.remote_id)
    return Outcome(show(record), effect=f"viewed:{number}")
