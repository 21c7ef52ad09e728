"""Operator login, bearer tokens and the database header of the simulated Collect! server.

Decisions where the documents are silent (named in ``assumptions.py``, mirrored by the
connector):

* ``POST auth/login`` answers ``{"token": "..."}``; later calls send
  ``Authorization: Bearer <token>``. A missing, malformed, expired or foreign token is
  answered ``401 {"error": ...}``.
* Tokens live ``token_lifetime`` seconds (an account credential, so a test can shorten
  it); changing the operator's password invalidates the tokens issued before.
* ``x-collect-database`` names the database; absent, ``cv_masterdb`` (documented
  default). A database the account does not have is answered ``403 {"error": ...}``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from django.core import signing
from django.http import HttpRequest, JsonResponse

from crmhub.sandbox.collect.assumptions import ASSUMPTIONS
from crmhub.sandbox.models import Account

DEFAULT_DATABASE = "cv_masterdb"
DATABASE_HEADER = "x-collect-database"
_SALT = "crmhub.sandbox.collect.token"


def default_credentials() -> dict[str, Any]:
    """Return fresh credentials of the simulated Collect! account."""
    return {
        "op_id": "OWN",
        "op_password": secrets.token_urlsafe(12),
        "database": DEFAULT_DATABASE,
        "token_lifetime": ASSUMPTIONS.token_lifetime,
    }


def account() -> Account:
    """Return the simulated Collect! account, creating it on first use."""
    found = Account.objects.filter(kind="collect").first()
    if found is None:
        found = Account.objects.create(kind="collect", credentials=default_credentials())
    return found


def error(message: str, status: int) -> JsonResponse:
    """Return the simulator's error answer: ``{"error": message}`` with ``status``."""
    return JsonResponse({"error": message}, status=status)


def requested_database(request: HttpRequest) -> str:
    """Return the database the request names (the documented default when it names none)."""
    return request.headers.get(DATABASE_HEADER, "").strip() or DEFAULT_DATABASE


def _password_digest(credentials: dict[str, Any]) -> str:
    return hashlib.sha256(str(credentials.get("op_password", "")).encode()).hexdigest()[:16]


def password_matches(credentials: dict[str, Any], op_id: str, op_password: str) -> bool:
    """Return whether ``op_id``/``op_password`` are the account's operator credentials."""
    same_id = hmac.compare_digest(op_id.upper(), str(credentials.get("op_id", "")).upper())
    same_pw = hmac.compare_digest(op_password, str(credentials.get("op_password", "")))
    return same_id and same_pw


def issue_token(credentials: dict[str, Any]) -> str:
    """Return a new bearer token for the account's operator."""
    payload = {"op": credentials.get("op_id"), "pw": _password_digest(credentials)}
    return signing.TimestampSigner(salt=_SALT).sign_object(payload)


def check_database(request: HttpRequest, credentials: dict[str, Any]) -> JsonResponse | None:
    """Return the 403 answer when the request names a database the account lacks."""
    database = requested_database(request)
    if database != credentials.get("database", DEFAULT_DATABASE):
        return error(f"Database '{database[:60]}' does not exist or is not available.", 403)
    return None


def check_request(request: HttpRequest, credentials: dict[str, Any]) -> JsonResponse | None:
    """Return the error answer (401/403) for a request that may not proceed, else None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme != ASSUMPTIONS.token_scheme or not token.strip():
        return error("Authorization: Bearer <token> is required; log in first.", 401)
    lifetime = int(credentials.get("token_lifetime", ASSUMPTIONS.token_lifetime))
    try:
        payload = signing.TimestampSigner(salt=_SALT).unsign_object(token.strip(), max_age=lifetime)
    except signing.SignatureExpired:
        return error("The token has expired; log in again.", 401)
    except signing.BadSignature:
        return error("The token is not valid.", 401)
    if not isinstance(payload, dict) or payload.get("pw") != _password_digest(credentials):
        return error("The token is not valid.", 401)
    return check_database(request, credentials)
