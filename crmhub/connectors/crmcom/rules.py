"""The documented rules of each CRM.COM operation, checked on crmhub's parameters.

``clean(operation, params, release=...)`` returns the cleaned parameters or raises
``InvalidParams({param: [messages]})``. Features that came with a later release are refused
on a connection whose stored release is older.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from crmhub.connectors.crmcom.params import (
    CLEARABLE,
    DIRECTIONS,
    EMAIL_PATTERN,
    IDENTIFIER_FIELDS,
    LIFE_CYCLE_STATES,
    LINKS_ALL,
    MAX_RESULTS,
    MEDIA,
    PARAMETER_TYPES,
    QUEUE_STATES,
    REFERRING_ENTITIES,
    UDF_FIELDS,
    Checker,
)
from crmhub.connectors.errors import InvalidParams

#: A release as three numbers, e.g. (13, 2, 0): compare only releases of that shape.
Release = tuple[int, ...]
#: The release each operation needs (from the documents' "Available from" notes).
OPERATION_RELEASES: dict[str, Release] = {
    "communication_set_as_viewed": (12, 2, 0),
    "queue_remove": (11, 0, 0),
    "queue_get_pending_completed": (10, 1, 0),
}
PAGING_RELEASE: Release = (13, 0, 0)
#: The release of a connection that does not say.
DEFAULT_RELEASE = "14"
COMPLETED_AND_REMOVED_RELEASE: Release = (10, 1, 0)
COMPOSITION = {
    *LINKS_ALL,
    "direction",
    "media",
    "subject",
    "content",
    "to",
    "notes",
    "life_cycle_state",
    *UDF_FIELDS,
    "referring_to",
    "unrestricted_parameter_set",
    "fields_set",
}
MANDATORY_WITHOUT_TEMPLATE = ("direction", "media", "subject", "content")


def release_of(settings: Mapping[str, Any]) -> Release:
    """Return the connection's CRM.COM release as three numbers, e.g. "13.2" -> (13, 2, 0)."""
    text = str(settings.get("release") or DEFAULT_RELEASE).strip().upper().removeprefix("R")
    parts = text.split(".")
    if not all(part.isdigit() for part in parts) or len(parts) > 3:
        raise InvalidParams({"release": ["Give the CRM.COM release as numbers, e.g. 14."]})
    return tuple(int(part) for part in parts) + (0,) * (3 - len(parts))


def shown(release: Release) -> str:
    return "R" + ".".join(str(part) for part in release)


# -- shared pieces ----------------------------------------------------------------------------
def _paging(c: Checker, release: Release) -> set[str]:
    c.whole("number_of_results", minimum=1, maximum=MAX_RESULTS)
    c.whole("offset")
    if release < PAGING_RELEASE and (c.given("number_of_results") or c.given("offset")):
        c.fail("number_of_results", f"Paging needs CRM.COM {shown(PAGING_RELEASE)} or later.")
    return {"number_of_results", "offset"}


def _source(c: Checker) -> set[str]:
    """The queue's semi-optional pair: exactly one of media and external system."""
    c.choice("media", MEDIA)
    c.identifier("communication_queue_external_system")
    if c.given("media") == c.given("communication_queue_external_system"):
        c.fail("media", "Give either media or communication_queue_external_system (one of them).")
    c.contact(required=False)
    c.fields_set()
    return {"media", "communication_queue_external_system", "fields_set"}


def _referring_to(c: Checker) -> None:
    value = c.params["referring_to"]
    if not isinstance(value, Mapping) or not value:
        c.fail("referring_to", 'Give the entities referred to, e.g. {"subscription": "S60302"}.')
        return
    referring: dict[str, dict[str, str]] = {}
    for key, identifier in value.items():
        entity = str(key).removesuffix("_identifier")
        if entity not in REFERRING_ENTITIES:
            c.fail("referring_to", f"{key!r} is not an entity a communication can refer to.")
        elif isinstance(identifier, str) and identifier.strip():
            referring[entity] = {"number": identifier.strip()}
        elif (
            isinstance(identifier, Mapping)
            and len(identifier) == 1
            and all(isinstance(v, str) and v.strip() for v in identifier.values())
        ):
            referring[entity] = {str(k): str(v).strip() for k, v in identifier.items()}
        else:
            c.fail("referring_to", f"{key}: give a number or one identifier field.")
    c.cleaned["referring_to"] = referring


def _parameter_value(c: Checker, where: str, kind: str, value: Any) -> Any:
    probe = Checker({"v": value})
    if kind == "STRING":
        if not isinstance(value, str) or len(value) > 255:
            c.fail("unrestricted_parameter_set", f"{where}: give text of at most 255 characters.")
        return value
    if kind == "FLOAT":
        probe.number("v")
    elif kind == "INTEGER":
        probe.whole("v")
    else:
        probe.date("v")
    if probe.errors:
        c.fail("unrestricted_parameter_set", f"{where}: {probe.errors['v'][0]}")
    return probe.cleaned.get("v")


def _parameters(c: Checker, *, updating: bool) -> None:
    items = c.params["unrestricted_parameter_set"]
    name = "unrestricted_parameter_set"
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        c.fail(name, "Give a list of parameters ({type, name, <type>_value}).")
        return
    cleaned: list[dict[str, Any]] = []
    for index, item in enumerate(items, start=1):
        where = f"parameter {index}"
        action = str(item.get("action") or "add").lower() if updating else "add"
        entry: dict[str, Any] = {"action": action} if updating else {}
        if action not in ("add", "update", "remove"):
            c.fail(name, f"{where}: action is add, update or remove.")
            continue
        if action != "add":
            probe = Checker({"p": item.get("unrestricted_parameter_identifier")})
            probe.identifier("p", kind="unrestricted_parameter", required=True)
            if probe.errors:
                c.fail(name, f"{where}: give unrestricted_parameter_identifier (name or key).")
                continue
            entry["unrestricted_parameter_identifier"] = probe.cleaned["p"]
            if action == "remove":
                cleaned.append(entry)
                continue
        kind = str(item.get("type") or "").strip().upper()
        label = item.get("name")
        if kind:
            if kind not in PARAMETER_TYPES:
                c.fail(name, f"{where}: type is one of {', '.join(PARAMETER_TYPES)}.")
                continue
            entry["type"] = kind
        elif action == "add":
            c.fail(name, f"{where}: type is required.")
            continue
        if isinstance(label, str) and label.strip() and len(label) <= 255:
            entry["name"] = label.strip()
        elif action == "add" or label is not None:
            c.fail(name, f"{where}: give a name of at most 255 characters.")
            continue
        if kind:
            value_key = f"{kind.lower()}_value"
            value = item.get(value_key, item.get("value"))
            if value in (None, ""):
                c.fail(name, f"{where}: {value_key} is required.")
                continue
            entry[value_key] = _parameter_value(c, where, kind, value)
        else:  # an update keeping the type: the value key says which it is
            for known in PARAMETER_TYPES:
                value_key = f"{known.lower()}_value"
                if item.get(value_key) not in (None, ""):
                    entry[value_key] = _parameter_value(c, where, known, item[value_key])
            if item.get("value") not in (None, ""):
                c.fail(name, f"{where}: give the type with a value, or <type>_value.")
        cleaned.append(entry)
    c.cleaned[name] = cleaned


def _composition(c: Checker, *, updating: bool) -> set[str]:
    """Clean the fields communications/create and /update share."""
    for link in LINKS_ALL:
        c.identifier(link)
    c.choice("direction", DIRECTIONS)
    c.choice("media", MEDIA)
    c.choice("life_cycle_state", LIFE_CYCLE_STATES)
    for name in ("subject", "content", "to", "notes"):
        c.text(name)
    for name in UDF_FIELDS:
        if name.startswith("udf_string_"):
            c.text(name, limit="udf_string")
        elif name.startswith("udf_float_"):
            c.number(name)
        else:
            c.date(name)
    if c.given("referring_to"):
        _referring_to(c)
    if c.given("unrestricted_parameter_set"):
        _parameters(c, updating=updating)
    c.fields_set()
    if (
        c.cleaned.get("media") == "EMAIL"
        and "to" in c.cleaned
        and not EMAIL_PATTERN.match(c.cleaned["to"])
    ):
        c.fail("to", "Give an email address (the media is EMAIL).")
    if updating:
        for name in sorted(set(c.params) & COMPOSITION):
            if not c.cleared(name) or name == "fields_set":
                continue
            if name in CLEARABLE:
                c.cleaned[name] = None
            else:
                c.fail(name, "This field cannot be cleared.")
    return COMPOSITION


# -- operations -------------------------------------------------------------------------------
def communication_create(c: Checker, release: Release) -> set[str]:
    c.contact(required=True)
    allowed = _composition(c, updating=False)
    if "template" not in c.cleaned:
        for name in MANDATORY_WITHOUT_TEMPLATE:
            if not c.given(name):
                c.fail(name, "Required unless a template is chosen.")
    if c.cleaned.get("media") == "EMAIL" and not c.given("to"):
        c.fail("to", "Required when the media is EMAIL.")
    return allowed


def communication_update(c: Checker, release: Release) -> set[str]:
    c.identifier("communication", required=True)
    return {"communication", *_composition(c, updating=True)}


def _communication(c: Checker, release: Release) -> set[str]:
    c.identifier("communication", required=True)
    c.fields_set()
    return {"communication", "fields_set"}


def communication_set_as_viewed(c: Checker, release: Release) -> set[str]:
    c.date("viewed_on")
    return {"viewed_on", *_communication(c, release)}


def communications_list(c: Checker, release: Release) -> set[str]:
    c.contact(required=False)
    c.identifier("category")
    if not (c.given("contact_remote_id") or c.given("category")):
        c.fail("contact_remote_id", "Give the contact or a category (or both).")
    c.choice("direction", DIRECTIONS)
    c.choice("media", MEDIA)
    c.fields_set()
    return {"category", "direction", "media", "fields_set", *_paging(c, release)}


def _queue_entry(c: Checker, release: Release) -> set[str]:
    c.identifier("queue_entry", required=True)
    c.fields_set()
    return {"queue_entry", "fields_set"}


def queue_reject(c: Checker, release: Release) -> set[str]:
    c.text("error_code", required=True)
    c.text("error_description", required=True)
    return {"error_code", "error_description", *_queue_entry(c, release)}


def queue_list(c: Checker, release: Release) -> set[str]:
    c.choice("life_cycle_state", QUEUE_STATES)
    if c.cleaned.get("life_cycle_state") == "COMPLETED_AND_REMOVED" and (
        release < COMPLETED_AND_REMOVED_RELEASE
    ):
        c.fail("life_cycle_state", f"Needs CRM.COM {shown(COMPLETED_AND_REMOVED_RELEASE)}.")
    return {"life_cycle_state", *_source(c), *_paging(c, release)}


def queue_get_latest(c: Checker, release: Release) -> set[str]:
    c.whole("number", minimum=1, maximum=MAX_RESULTS)
    if not c.given("number"):
        c.fail("number", "This field is required.")
    return {"number", *_source(c)}


def queue_get_pending_completed(c: Checker, release: Release) -> set[str]:
    # Before R13 the page size is called "number" and there is no offset.
    c.whole("number_of_results", minimum=1, maximum=MAX_RESULTS)
    c.whole("offset")
    if release < PAGING_RELEASE and c.given("offset"):
        c.fail("offset", f"Needs CRM.COM {shown(PAGING_RELEASE)} or later.")
    return {"number_of_results", "offset", *_source(c)}


def contact_show(c: Checker, release: Release) -> set[str]:
    c.contact(required=True)
    c.fields_set()
    return {"fields_set"}


CLEANERS: dict[str, Callable[[Checker, Release], set[str]]] = {
    "communication_create": communication_create,
    "communication_update": communication_update,
    "communication_complete": _communication,
    "communication_set_as_viewed": communication_set_as_viewed,
    "queue_process": _queue_entry,
    "queue_reject": queue_reject,
    "queue_remove": _queue_entry,
    "communications_list": communications_list,
    "communication_show": _communication,
    "queue_list": queue_list,
    "queue_get_latest": queue_get_latest,
    "queue_get_pending_completed": queue_get_pending_completed,
    "queue_show": _queue_entry,
    "contact_show": contact_show,
}
assert set(IDENTIFIER_FIELDS) >= set(LINKS_ALL)


def clean(operation: str, params: Mapping[str, Any], *, release: Release) -> dict[str, Any]:
    """Return ``params`` cleaned for ``operation``; raise ``InvalidParams`` otherwise."""
    checker = Checker(params)
    needed = OPERATION_RELEASES.get(operation)
    if needed is not None and release < needed:
        checker.fail("__all__", f"This operation needs CRM.COM {shown(needed)} or later.")
    allowed = CLEANERS[operation](checker, release)
    return checker.result(allowed)
