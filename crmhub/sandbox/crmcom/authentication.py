"""``POST authentication/token`` (log in) and ``authentication/token/release``."""

from __future__ import annotations

import hmac
from typing import Any

from crmhub.sandbox.crmcom import store
from crmhub.sandbox.crmcom.api import (
    AUTHENTICATION_FAILED,
    KIND,
    ApiError,
    Outcome,
    check_known,
    now,
    text,
)
from crmhub.sandbox.crmcom.auth import account_credentials, issue, verify
from crmhub.sandbox.crmcom.endpoint import endpoint
from crmhub.sandbox.models import Record


@endpoint("authentication/token", "POST", authenticated=False)
def token_create(params: dict[str, Any]) -> Outcome:
    """Log in: ``username``, ``password``, ``organisation`` and an optional ``unit``."""
    check_known(params, {"username", "password", "organisation", "unit"})
    username = text(params, "username", required=True)
    password = text(params, "password", required=True)
    organisation = text(params, "organisation", required=True)
    unit = text(params, "unit")
    credentials = account_credentials()
    if not (
        username == credentials["username"]
        and password is not None
        and hmac.compare_digest(password, credentials["password"])
        and organisation == credentials["organisation"]
        and unit in (None, credentials.get("unit"))
    ):
        raise ApiError(
            AUTHENTICATION_FAILED,
            "Authentication failed",
            "The username, password, organisation or unit is wrong.",
        )
    return Outcome({"token": issue(credentials)})


@endpoint("authentication/token/release", "POST")
def token_release(params: dict[str, Any]) -> Outcome:
    """Invalidate the token given (the docs recommend releasing unused tokens)."""
    check_known(params, set())
    payload = verify(params["token"])
    Record.objects.get_or_create(
        kind=KIND,
        collection=store.REVOKED_TOKEN,
        remote_id=payload["jti"],
        defaults={"data": {}, "updated_at": now()},
    )
    return Outcome(None, effect=f"release:{payload['jti']}")
