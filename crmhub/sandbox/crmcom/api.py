"""The CRM.COM Web API conventions: JSON envelopes, error codes, request parameters.

Every answer is ``{"status": {"code", "message", "description"}, "data"}`` with HTTP 200,
errors included. GET calls carry ``token`` and parameters in the query string (an
identifier as ``name_identifier=field=value``, an assumption); POST calls carry a JSON body
that includes ``"token"`` (an identifier as ``{"field": "value"}`` only, as every POST
example of the documents writes it).

The vendor publishes no error codes; the sandbox's own are an assumption
(``assumptions.py``), mirrored by the connector in one place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest

from crmhub.sandbox.crmcom.assumptions import ASSUMPTIONS

KIND = "crmcom"

# -- error codes and limits: assumptions (``assumptions.py``), mirrored by the connector ------
_CODES = ASSUMPTIONS.error_codes
INVALID_TOKEN = _CODES["invalid_token"]
AUTHENTICATION_FAILED = _CODES["authentication_failed"]
MISSING_PARAMETER = _CODES["missing"]
INVALID_PARAMETER = _CODES["invalid"]
NOT_FOUND = _CODES["not_found"]
INVALID_LIFE_CYCLE_STATE = _CODES["life_cycle"]
MALFORMED_REQUEST = _CODES["malformed"]
MAX_LENGTHS = ASSUMPTIONS.max_lengths
MAX_RESULTS = ASSUMPTIONS.max_results
DEFAULT_RESULTS = ASSUMPTIONS.default_results

DIRECTIONS = ("INCOMING", "OUTGOING")
MEDIA = ("EMAIL", "SMS", "PHONE", "LETTER", "FACE_TO_FACE")
EMAIL_PATTERN = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


class ApiError(Exception):
    """A request the API refuses: answered as an error envelope."""

    def __init__(self, code: str, message: str, description: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.description = description


@dataclass
class Outcome:
    """What a handler returns: the ``data`` to send and the change it applied, if any."""

    data: Any
    effect: str = ""

    @property
    def applied(self) -> bool:
        return bool(self.effect)


def envelope(data: Any, *, code: str = "OK", message: str = "", description: str = "") -> dict:
    return {"status": {"code": code, "message": message, "description": description}, "data": data}


def missing(name: str) -> ApiError:
    return ApiError(MISSING_PARAMETER, "Mandatory parameter missing", f"{name} is mandatory.")


def invalid(name: str, why: str) -> ApiError:
    return ApiError(INVALID_PARAMETER, "Invalid parameter", f"{name}: {why}")


def not_found(what: str) -> ApiError:
    return ApiError(NOT_FOUND, "Not found", f"The {what} does not exist.")


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Return the API's date-time format (``2015-04-30T13:23:51``, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def java_date(moment: datetime) -> str:
    """Return a date as the API's Java-style text (``Mon May 22 12:42:03 UTC 2017``)."""
    return moment.astimezone(UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


# -- request parameters ---------------------------------------------------------------------
def read_params(request: HttpRequest, method: str) -> dict[str, Any]:
    """Return the call's parameters: the query string (GET) or the JSON object body (POST)."""
    if method == "GET":
        return {key: request.GET.get(key) for key in request.GET}
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(MALFORMED_REQUEST, "Malformed request", "The body is not JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(MALFORMED_REQUEST, "Malformed request", "The body is not a JSON object.")
    return body


def identifiers_read(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return query-string ``params`` with each identifier's ``field=value`` as an object."""
    read = dict(params)
    for name, value in params.items():
        if not name.endswith("_identifier") or value in (None, ""):
            continue
        field, sep, given = str(value).partition(ASSUMPTIONS.get_identifier_separator)
        if not sep:
            raise invalid(name, "must be given as field=value, e.g. number=CM000680.")
        read[name] = {field: given}
    return read


def check_known(params: Mapping[str, Any], allowed: set[str]) -> None:
    """Refuse parameters the method does not document (so a misspelt name shows)."""
    unknown = sorted(set(params) - allowed - {"token"})
    if unknown:
        raise invalid(unknown[0], "is not a parameter of this method.")


def text(params: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    """Return a string parameter (None when absent); check its documented length."""
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(name)
        return None
    if not isinstance(value, str):
        raise invalid(name, "must be a string.")
    limit = MAX_LENGTHS.get("udf_string" if name.startswith("udf_string_") else name)
    if limit is not None and len(value) > limit:
        raise invalid(name, f"must be at most {limit} characters.")
    return value


def choice(params: Mapping[str, Any], name: str, options: tuple[str, ...]) -> str | None:
    value = text(params, name)
    if value is not None and value not in options:
        raise invalid(name, f"must be one of {', '.join(options)}.")
    return value


def whole(params: Mapping[str, Any], name: str, *, minimum: int = 0) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).isdigit():
        raise invalid(name, "must be a whole number.")
    number = int(value)
    if number < minimum:
        raise invalid(name, f"must be at least {minimum}.")
    return number


def paging(params: Mapping[str, Any]) -> tuple[int, int]:
    """Return (offset, number_of_results) of a list call (R13 paging)."""
    size = whole(params, "number_of_results", minimum=1)
    if size is not None and size > MAX_RESULTS:
        raise invalid("number_of_results", f"must be at most {MAX_RESULTS}.")
    return whole(params, "offset") or 0, size or DEFAULT_RESULTS


def date_value(value: Any, name: str) -> datetime:
    if isinstance(value, str):
        for fmt in DATE_FORMATS:
            try:
                return datetime.strptime(value, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
    raise invalid(name, "must be a date as YYYY-MM-DDTHH:MM:SS or YYYY-MM-DD.")


def float_value(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise invalid(name, "must be a number.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise invalid(name, "must be a number.") from None


def fields_filter(data: Any, params: Mapping[str, Any]) -> Any:
    """Keep only the top-level fields named in ``fields_set`` (comma separated)."""
    wanted = params.get("fields_set")
    if not wanted:
        return data
    if not isinstance(wanted, str):
        raise invalid("fields_set", "must be a comma separated list of field names.")
    names = {part.strip() for part in wanted.split(",") if part.strip()}

    def keep(item: Any) -> Any:
        return {k: v for k, v in item.items() if k in names} if isinstance(item, dict) else item

    return [keep(item) for item in data] if isinstance(data, list) else keep(data)
