"""The fields of a communication, as ``communications/create`` and ``/update`` set them.

Rules from the documents: a template sets direction, media, subject and content; without a
template those four are mandatory; ``to`` is mandatory when the media is EMAIL; the life
cycle state is DRAFT or COMPLETED (default COMPLETED). Placeholders such as
``#contact_information.first_name`` or ``#unrestricted_string.name`` are filled in; unknown
ones are left as written (the vendor samples show this).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from typing import Any

from crmhub.sandbox.crmcom import render, store
from crmhub.sandbox.crmcom.api import (
    DIRECTIONS,
    EMAIL_PATTERN,
    MAX_LENGTHS,
    MEDIA,
    choice,
    date_value,
    float_value,
    invalid,
    iso,
    java_date,
    missing,
    not_found,
    text,
    whole,
)
from crmhub.sandbox.crmcom.assumptions import ASSUMPTIONS
from crmhub.sandbox.models import Record

LIFE_CYCLE_STATES = ("DRAFT", "COMPLETED")
PARAMETER_TYPES = ("STRING", "FLOAT", "DATE", "INTEGER")
SENDER = ASSUMPTIONS.sender
UDF_FIELDS = (
    *(f"udf_string_{i}" for i in range(1, 9)),
    *(f"udf_float_{i}" for i in range(1, 5)),
    *(f"udf_date_{i}" for i in range(1, 5)),
)
#: Identifier parameters and the collection each names.
LINKS = {
    "category_identifier": ("category", store.CATEGORY),
    "communication_queue_external_system_identifier": ("external_system", store.EXTERNAL_SYSTEM),
    "owned_by_group_identifier": ("owned_by_group", store.GROUP),
    "privacy_level_identifier": ("privacy_level", store.PRIVACY_LEVEL),
}
COMMON_PARAMS = {
    "template_identifier",
    *LINKS,
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
CREATE_PARAMS = {"contact_information_identifier", *COMMON_PARAMS}
UPDATE_PARAMS = {"communication_identifier", *COMMON_PARAMS}
_PLACEHOLDER = re.compile(r"#([a-z_]+)\.([A-Za-z0-9_]+)")


def create_marker(contact_id: str, subject: str | None, content: str | None) -> str:
    """Return the stable marker of a created communication (its ledger effect)."""
    raw = f"{contact_id}|{subject or ''}|{content or ''}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def _cleared(params: Mapping[str, Any], name: str) -> bool:
    return name in params and params[name] in (None, "")


def apply_template(data: dict[str, Any], params: Mapping[str, Any]) -> None:
    template = store.resolve(params, "template_identifier", store.TEMPLATE, required=False)
    if template is None:
        return
    for field in ("direction", "media", "subject", "content", "category"):
        if template.data.get(field) is not None:
            data[field] = template.data[field]
    data["template"] = template.remote_id


def apply_fields(data: dict[str, Any], params: Mapping[str, Any], *, updating: bool) -> None:
    """Set the given fields on ``data``; on update a null clears an optional field."""
    for name in ASSUMPTIONS.uncleared_fields:
        if updating and _cleared(params, name):
            raise invalid(name, "cannot be cleared.")
    for name, options in (("direction", DIRECTIONS), ("media", MEDIA)):
        value = choice(params, name, options)
        if value is not None:
            data[name] = value
    for name in ("subject", "content", "to", "notes"):
        value = text(params, name)
        if value is not None:
            data[name] = value
        elif updating and _cleared(params, name):
            data[name] = None
    state = choice(params, "life_cycle_state", LIFE_CYCLE_STATES)
    if state is not None:
        data["life_cycle_state"] = state
    for name, (field, collection) in LINKS.items():
        if updating and _cleared(params, name):
            data[field] = None
            continue
        record = store.resolve(params, name, collection, required=False)
        if record is not None:
            data[field] = record.remote_id
    _apply_udf(data.setdefault("udf", {}), params, updating=updating)
    if "referring_to" in params:
        data["referring_to"] = _referring_to(params["referring_to"])


def check_complete(data: dict[str, Any]) -> None:
    """Refuse a communication missing what the documents make mandatory."""
    for name in ("direction", "media", "subject", "content"):
        if not data.get(name):
            raise missing(f"{name} (mandatory unless a template is specified)")
    if data["media"] == "EMAIL":
        if not data.get("to"):
            raise missing("to (mandatory when media is EMAIL)")
        if not EMAIL_PATTERN.match(data["to"]):
            raise invalid("to", "must be an email address when media is EMAIL.")
    data["from"] = SENDER if data["media"] == "EMAIL" else None


def _apply_udf(udf: dict[str, Any], params: Mapping[str, Any], *, updating: bool) -> None:
    for name in UDF_FIELDS:
        if name not in params:
            continue
        value = params[name]
        if value in (None, ""):
            udf.pop(name, None)
        elif name.startswith("udf_string_"):
            udf[name] = text(params, name)
        elif name.startswith("udf_float_"):
            udf[name] = float_value(value, name)
        else:
            udf[name] = iso(date_value(value, name))


def _referring_to(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise invalid("referring_to", "must be an object of <entity>_identifier fields.")
    referring: dict[str, Any] = {}
    for key, identifier in value.items():
        entity = key.removesuffix("_identifier")
        if not key.endswith("_identifier") or entity not in render.REFERRING_ENTITIES:
            raise invalid("referring_to", f"{key!r} is not a known entity identifier.")
        if not isinstance(identifier, Mapping) or len(identifier) != 1:
            raise invalid("referring_to", f"{key} must name exactly one identifier field.")
        field, given = next(iter(identifier.items()))
        if not isinstance(given, str) or not given or len(given) > MAX_LENGTHS["identifier"]:
            raise invalid("referring_to", f"{key}.{field} must be a non-empty string.")
        referring[entity] = {field: given}
    return referring


# -- unrestricted parameters ------------------------------------------------------------------
def _parameter(item: Mapping[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    name = item.get("name", base["name"] if base else None)
    kind = item.get("type", base["type"] if base else None)
    where = "unrestricted_parameter_set"
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise invalid(where, "each parameter needs a name (at most 255 characters).")
    if kind not in PARAMETER_TYPES:
        raise invalid(where, f"type must be one of {', '.join(PARAMETER_TYPES)}.")
    value_key = f"{kind.lower()}_value"
    value = item.get(value_key, base.get(value_key) if base and base["type"] == kind else None)
    if value in (None, ""):
        raise missing(f"{where}.{value_key}")
    shown: dict[str, Any] = {"string_value": None, "float_value": None}
    shown.update(integer_value=None, date_value=None)
    if kind == "STRING":
        if not isinstance(value, str) or len(value) > 255:
            raise invalid(where, "string_value must be a string of at most 255 characters.")
        shown["string_value"] = value
    elif kind == "FLOAT":
        shown["float_value"] = float_value(value, f"{where}.float_value")
    elif kind == "INTEGER":
        shown["integer_value"] = whole({"v": value}, "v")
    else:
        shown["date_value"] = java_date(date_value(value, f"{where}.date_value"))
    return {
        **shown,
        "type": kind,
        "id": base["id"] if base else uuid.uuid4().hex.upper(),
        "name": name.strip(),
        "key": f"unrestricted_{kind.lower()}.{name.strip()}",
    }


def _find_parameter(current: list[dict[str, Any]], identifier: Any) -> int:
    field, given = store.identifier_of(
        identifier, "unrestricted_parameter_identifier", store.UNRESTRICTED
    )
    for index, parameter in enumerate(current):
        if str(parameter.get(field, "")).strip() == given.strip():
            return index
    raise not_found(f"unrestricted parameter with {field} {given!r}")


def apply_parameters(data: dict[str, Any], value: Any, *, updating: bool) -> None:
    """Apply ``unrestricted_parameter_set`` (on update each item has an ``action``)."""
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(i, Mapping) for i in value):
        raise invalid("unrestricted_parameter_set", "must be a list of objects.")
    current: list[dict[str, Any]] = list(data.get("unrestricted_parameter_set", []))
    for item in value:
        action = item.get("action", "add") if updating else "add"
        if action not in ("add", "update", "remove"):
            raise invalid("unrestricted_parameter_set", "action must be add, update or remove.")
        if action == "add":
            added = _parameter(item)
            if any(p["key"] == added["key"] for p in current):
                raise invalid("unrestricted_parameter_set", f"{added['key']} already exists.")
            current.append(added)
            continue
        index = _find_parameter(current, item.get("unrestricted_parameter_identifier"))
        if action == "remove":
            current.pop(index)
        else:
            current[index] = _parameter(item, current[index])
    data["unrestricted_parameter_set"] = current


# -- placeholders -------------------------------------------------------------------------------
def fill_placeholders(data: dict[str, Any], contact: Record) -> None:
    """Replace the placeholders of subject and content with their values."""
    values: dict[str, Any] = {
        f"contact_information.{k}": v for k, v in render.contact_summary(contact).items()
    }
    for parameter in data.get("unrestricted_parameter_set", []):
        value = next(
            (
                parameter[k]
                for k in ("string_value", "float_value", "integer_value", "date_value")
                if parameter.get(k) is not None
            ),
            None,
        )
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        values[parameter["key"]] = value
    for entity, identifier in (data.get("referring_to") or {}).items():
        for field, given in identifier.items():
            values[f"{entity}.{field}"] = given

    def replace(match: re.Match[str]) -> str:
        value = values.get(f"{match.group(1)}.{match.group(2)}")
        return match.group(0) if value is None or isinstance(value, dict) else str(value)

    for field in ("subject", "content"):
        if isinstance(data.get(field), str):
            data[field] = _PLACEHOLDER.sub(replace, data[field])
