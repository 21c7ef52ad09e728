"""The one place XML from a remote is parsed: no DOCTYPE, no entities, no network, size cap."""

from __future__ import annotations

import re

from lxml import etree

from crmhub.connectors.errors import BadResponse, UnsafeXML

MAX_XML_BYTES = 5 * 1024 * 1024
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse(body: bytes, *, max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    """Return the root element of ``body``; raise ``UnsafeXML`` or ``BadResponse``."""
    if len(body) > max_bytes:
        raise BadResponse(f"The XML answer is larger than {max_bytes} bytes.")
    if _DTD.search(body):
        raise UnsafeXML("The XML answer declares a DOCTYPE or entities; refused.")
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        snippet = body[:120].decode("utf-8", errors="replace").strip()
        raise BadResponse(f"The answer is not well-formed XML (starts {snippet!r}).") from exc
    if root is None:
        raise BadResponse("The XML answer is empty.")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeXML("The XML answer declares a DOCTYPE; refused.")
    return root
