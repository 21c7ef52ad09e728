"""The token every call but ``authentication/token`` carries: issued, then verified.

Tokens are JWT-shaped (R12+: "a JWT longer than 32 characters") and signed with the
sandbox account's own secret, so they need no storage. A token expires a fixed time after
issue (R12+: 2 hours), read from the account's ``token_lifetime_seconds`` at each check, so
a test can shorten it even for a token already issued. Released tokens are remembered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from crmhub.sandbox.crmcom import store
from crmhub.sandbox.crmcom.api import AUTHENTICATION_FAILED, INVALID_TOKEN, KIND, ApiError
from crmhub.sandbox.models import Account

TOKEN_LIFETIME = 2 * 60 * 60
_HEADER = {"alg": "HS256", "typ": "JWT"}


def default_credentials() -> dict[str, str]:
    """Return fresh credentials of the sandbox account (plus its token settings)."""
    return {
        "username": "crmhub_api",
        "password": secrets.token_urlsafe(18),
        "organisation": "crmhub-sandbox",
        "unit": "Admin Unit",
        "token_lifetime_seconds": str(TOKEN_LIFETIME),
        "token_secret": secrets.token_hex(32),
    }


def account_credentials() -> dict[str, Any]:
    """Return the sandbox account's credentials; refuse the call when there is none."""
    account = Account.objects.filter(kind=KIND).first()
    if account is None:
        raise ApiError(AUTHENTICATION_FAILED, "Authentication failed", "No such organisation.")
    return dict(account.credentials)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text_: str) -> bytes:
    return base64.urlsafe_b64decode(text_ + "=" * (-len(text_) % 4))


def _sign(secret: str, message: str) -> str:
    return _b64(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest())


def issue(credentials: dict[str, Any]) -> str:
    """Return a new signed token for the account."""
    issued = int(time.time())
    payload = {
        "sub": credentials["username"],
        "org": credentials["organisation"],
        "iat": issued,
        "exp": issued + int(credentials.get("token_lifetime_seconds", TOKEN_LIFETIME)),
        "jti": secrets.randbelow(2**62),
    }
    head = _b64(json.dumps(_HEADER).encode()) + "." + _b64(json.dumps(payload).encode())
    return head + "." + _sign(credentials["token_secret"], head)


def _invalid() -> ApiError:
    return ApiError(
        INVALID_TOKEN,
        "Invalid token",
        "The token is unknown, released or expired; request a new one with authentication/token.",
    )


def verify(token: Any) -> dict[str, Any]:
    """Return the payload of a valid token; raise ``INVALID_TOKEN`` otherwise."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise _invalid()
    credentials = account_credentials()
    head, _, signature = token.rpartition(".")
    if not hmac.compare_digest(signature, _sign(credentials["token_secret"], head)):
        raise _invalid()
    try:
        payload = json.loads(_unb64(head.split(".")[1]))
    except ValueError:
        raise _invalid() from None
    lifetime = int(credentials.get("token_lifetime_seconds", TOKEN_LIFETIME))
    if time.time() >= min(payload["exp"], payload["iat"] + lifetime):
        raise _invalid()
    if store.get(store.REVOKED_TOKEN, payload["jti"]) is not None:
        raise _invalid()
    return payload


def require_token(token: Any) -> None:
    if token is None or token == "":
        raise ApiError(INVALID_TOKEN, "Invalid token", "token is mandatory.")
    verify(token)
