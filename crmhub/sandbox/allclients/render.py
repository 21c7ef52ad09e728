"""Answers of the simulated AllClients API, in XML (the default) or JSON.

An answer is built once as a tree of ``(name, value)`` nodes, where a value is text or a
list of child nodes, and written either as XML or as the JSON the vendor derives from that
XML naively: every value a string, an element repeated under one parent becomes an array,
an element that occurs once becomes an object (so a one-item list is NOT an array), and an
element with no content becomes ``null``.
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from django.http import HttpResponse
from lxml import etree

from crmhub.sandbox.allclients.assumptions import ASSUMPTIONS

Node = tuple[str, "str | list[Node]"]

XML_DECLARATION = '<?xml version="1.0"?>\n'


def wants_json(response_type: str | None) -> bool:
    """Return whether the caller asked for JSON (``response_type=json``)."""
    return (response_type or "").strip().lower() == ASSUMPTIONS.response_type_json


def vendor_datetime(iso: str, zone: ZoneInfo) -> str:
    """Return a stored ISO-8601 UTC time as the vendor shows it: ``2/15/2014 1:15:05 PM``."""
    moment = datetime.fromisoformat(iso).astimezone(zone)
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return (
        f"{moment.month}/{moment.day}/{moment.year} "
        f"{hour}:{moment.minute:02d}:{moment.second:02d} {half}"
    )


def _fill(element: etree._Element, value: str | list[Node]) -> None:
    if isinstance(value, str):
        element.text = value
        return
    add = etree.SubElement
    for child, grandchildren in value:
        if isinstance(grandchildren, str):  # a leaf: no call of its own
            add(element, child).text = grandchildren
        else:
            _fill(add(element, child), grandchildren)


def xml_body(nodes: list[Node], *, indent: bool = False) -> bytes:
    """Return ``<results>`` with ``nodes`` as XML, declaration first.

    Compact (no whitespace between elements), as the vendor's own clients need it: its
    WordPress plugin takes ``<results>``' first child node and counts its child nodes, which
    whitespace text nodes would break. ``indent`` writes it indented (a fault to try).
    Built and written by lxml (C): a page of 500 contacts in a few milliseconds, so the
    simulator is not what a sync benchmark measures.
    """
    root = etree.Element("results")
    _fill(root, nodes)
    if indent:
        etree.indent(root, space="    ")
    return XML_DECLARATION.encode() + etree.tostring(root, encoding="utf-8")


def _json_value(value: str | list[Node]) -> object:
    if isinstance(value, str):
        return value
    if not value:
        return None
    grouped: dict[str, list[object]] = {}
    for name, child in value:
        grouped.setdefault(name, []).append(_json_value(child))
    return {name: items[0] if len(items) == 1 else items for name, items in grouped.items()}


def json_body(nodes: list[Node]) -> bytes:
    """Return ``{"results": ...}`` converted from the XML tree the vendor's naive way."""
    return json.dumps({"results": _json_value(nodes)}, ensure_ascii=False).encode("utf-8")


def answer(nodes: list[Node], *, as_json: bool, indent: bool = False) -> HttpResponse:
    """Return an HTTP 200 answer carrying ``nodes`` in the requested format."""
    if as_json:
        return HttpResponse(json_body(nodes), content_type="application/json; charset=utf-8")
    return HttpResponse(xml_body(nodes, indent=indent), content_type="text/xml; charset=utf-8")


def error(text: str, *, as_json: bool, indent: bool = False) -> HttpResponse:
    """Return the vendor's failure shape, ``<results><error>text</error></results>``, as 200."""
    return answer([("error", text)], as_json=as_json, indent=indent)
