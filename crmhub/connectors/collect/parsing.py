"""Pure parsing of Collect! answers: bytes or text in, frozen dataclasses out.

Every function raises only the connector error family: ``BadResponse`` for what cannot be
understood, ``Rejected``/``AuthFailed`` for a vendor error that arrived with HTTP 200.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crmhub.connectors.base import Prompt, RemoteContact
from crmhub.connectors.errors import AuthFailed, BadResponse, Rejected

#: Assumption (documents silent): phone columns, by printable-field suffix.
PHONE_FIELDS = ("home_phone", "work_phone", "cell_phone", "phone")


@dataclass(frozen=True)
class DataPage:
    """One page of ``GET collect/data/<table>``."""

    rec_id: str
    row_id: str
    num_records: int
    num_pages: int
    rows: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class SocketMessage:
    """One message from the Collect! Web Socket."""

    type: str  # hello | prompt | done | other
    websocket_id: str = ""
    prompt: Prompt | None = None
    ok: bool = False
    message: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


def _snippet(body: bytes | str) -> str:
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    return text[:120].strip()


def load_json(body: bytes | str) -> Any:
    """Return the decoded JSON of ``body``; raise ``BadResponse`` if it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise BadResponse(f"Collect! did not answer with JSON (got {_snippet(body)!r}).") from None


def error_message(body: bytes | str) -> str | None:
    """Return the vendor's error text in ``body`` (``{"error": ...}``), if there is one."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if isinstance(decoded, Mapping):
        for key in ("error", "message", "errorMessage"):
            if isinstance(decoded.get(key), str) and decoded[key].strip():
                return str(decoded[key]).strip()[:300]
    return None


def _object(body: bytes | str) -> Mapping[str, Any]:
    decoded = load_json(body)
    if not isinstance(decoded, Mapping):
        raise BadResponse(f"Collect! answered JSON that is not an object ({_snippet(body)!r}).")
    return decoded


def parse_login(body: bytes) -> str:
    """Return the token of a login answer ``{"token": "..."}``."""
    decoded = _object(body)
    token = decoded.get("token")
    if isinstance(token, str) and token.strip():
        return token.strip()
    message = error_message(body)
    if message:
        raise AuthFailed(f"Collect! refused the login: {message}")
    raise BadResponse("Collect! answered the login without a token.")


def _count(header: Mapping[str, Any], name: str) -> int:
    value = header.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise BadResponse(f"Collect! listing header has no valid {name}.")
    return int(value)


def parse_data_page(body: bytes, *, table: str) -> DataPage:
    """Return one page of ``table`` from ``{"type": {...}, "data": [...]}``."""
    decoded = _object(body)
    header = decoded.get("type")
    if not isinstance(header, Mapping):
        message = error_message(body)
        if message:
            raise Rejected(f"Collect! refused to list {table}: {message}")
        raise BadResponse(f"Collect! answered the {table} listing without its 'type' header.")
    if header.get("recId") != table:
        raise BadResponse(f"Collect! answered a listing of {header.get('recId')!r}, not {table}.")
    row_id = header.get("rowId")
    if not isinstance(row_id, str) or not row_id.endswith("_rowid"):
        raise BadResponse(f"Collect! listing of {table} names no rowid column.")
    data = decoded.get("data", [])
    if isinstance(data, Mapping):  # a one-row answer may come as the row itself
        data = [data]
    if data is None:
        data = []
    if not isinstance(data, list) or not all(isinstance(row, Mapping) for row in data):
        raise BadResponse(f"Collect! listing of {table} has no list of rows.")
    return DataPage(
        rec_id=table,
        row_id=row_id,
        num_records=_count(header, "numRecords"),
        num_pages=_count(header, "numPages"),
        rows=tuple(data),
    )


def split_name(name: str) -> tuple[str, str]:
    """Return ``(first, last)`` of a Collect! name kept as "Last, First"."""
    last, comma, first = name.partition(",")
    if not comma:
        return "", ""
    return first.strip(), last.strip()


def _text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    return value.strip() if isinstance(value, str) else ""


def parse_modified(value: Any) -> datetime | None:
    """Return an aware UTC datetime from an ISO 8601 value (naive read as UTC), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:  # assumption: a self-hosted server without offset means UTC
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def rowid_of(row: Mapping[str, Any], row_id: str) -> int:
    """Return the row's rowid (``row[row_id]``); raise ``BadResponse`` if it has none."""
    value = row.get(row_id)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise BadResponse(f"A Collect! row has no valid {row_id}.")
    return int(value)


def contact_from_row(table: str, row_id: str, row: Mapping[str, Any]) -> RemoteContact:
    """Return the index's view of one Collect! row; remote_id is ``"<table>:<rowid>"``."""
    prefix = row_id.removesuffix("rowid")
    name = _text(row, f"{prefix}name")
    first, last = split_name(name)
    email = _text(row, f"{prefix}email")
    phones = tuple(p for p in (_text(row, prefix + f) for f in PHONE_FIELDS) if p)
    return RemoteContact(
        remote_id=f"{table}:{rowid_of(row, row_id)}",
        record_type=table,
        first_name=first,
        last_name=last,
        full_name=f"{first} {last}".strip() if first or last else name,
        company=_text(row, f"{prefix}company"),
        emails=(email,) if email else (),
        phones=phones,
        updated_at=parse_modified(row.get(f"{prefix}modified")),
        raw=dict(row),
    )


def parse_runplan(body: bytes) -> Mapping[str, Any]:
    """Return what a 200 ``runplan`` answer carried: nothing (documented), or a JSON object.

    A vendor error in the body raises ``Rejected``; a body that is not JSON raises
    ``BadResponse`` (the caller decides what that means for a plan that may have run).
    """
    if not body.strip():
        return {}
    decoded = _object(body)
    message = error_message(body)
    if message and ("error" in decoded or decoded.get("ok") is False):
        raise Rejected(f"Collect! refused the contact plan: {message}")
    return dict(decoded)


def parse_socket_message(text: str | bytes) -> SocketMessage:
    """Return one Web Socket message as a ``SocketMessage``."""
    decoded = _object(text)
    if isinstance(decoded.get("websocket-id"), str):
        return SocketMessage("hello", websocket_id=decoded["websocket-id"], raw=decoded)
    kind = decoded.get("type")
    if kind == "prompt":
        prompt_id = decoded.get("prompt_id")
        if not isinstance(prompt_id, str | int) or isinstance(prompt_id, bool):
            raise BadResponse("A Collect! prompt came without a prompt_id.")
        fields = decoded.get("fields") or []
        if not isinstance(fields, list):
            fields = [fields]
        prompt = Prompt(
            prompt_id=str(prompt_id),
            message=str(decoded.get("message") or ""),
            fields=tuple(f for f in fields if isinstance(f, Mapping)),
        )
        return SocketMessage("prompt", prompt=prompt, raw=decoded)
    if kind == "done":
        ok = decoded.get("ok") is True
        return SocketMessage("done", ok=ok, message=str(decoded.get("message") or ""), raw=decoded)
    return SocketMessage("other", raw=decoded)


def answer_message(prompt_id: str, values: Mapping[str, Any]) -> str:
    """Return the answer to send back for ``prompt_id``."""
    return json.dumps({"type": "answer", "prompt_id": prompt_id, "values": dict(values)})


def runplan_body(*, plan: str, table: str, rowid: int, websocket_id: str | None) -> dict[str, Any]:
    """Return the documented ``runplan`` body: ``{"plan", "<record>": rowid, "websocket-id"}``.

    Without a ``websocket_id`` the key is left out (a plan sent without a socket).
    """
    body: dict[str, Any] = {"plan": plan, table: rowid}
    if websocket_id is not None:
        body["websocket-id"] = websocket_id
    return body
