"""What a web process serves (``CRMHUB_WEB_ROLE``): the console, the sandbox CRMs, or both.

scripts/run starts the console's processes (``console``: several may run) and one process of
the sandbox CRMs (``sandbox``: it keeps the Collect! sockets in its memory); the tests' live
servers serve both (``all``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from crmhub.core.env import read_web_role
from crmhub.sandbox.collect import WEBSOCKET_PATH

ROOT = Path(__file__).resolve().parents[2]
COLLECT_LOGIN = "/sandbox/collect/api/v1/auth/login"
RUN_ACTION_SET = "/sandbox/allclients/api/2/RunActionSet.aspx"
#: Print, in a process of role ``CRMHUB_WEB_ROLE``, its URLconf and which paths it serves.
RESOLVE = f"""
import json
import django
django.setup()
from django.conf import settings
from django.urls import Resolver404, resolve
def served(path):
    try:
        resolve(path)
    except Resolver404:
        return False
    return True
paths = ["/login/", "/admin/", "/", {COLLECT_LOGIN!r}, {RUN_ACTION_SET!r}]
print(json.dumps([settings.ROOT_URLCONF, {{path: served(path) for path in paths}}]))
"""


def _resolved(role: str, **more: str) -> tuple[str, dict[str, bool]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMHUB_")}
    result = subprocess.run(
        [sys.executable, "-c", RESOLVE],
        cwd=ROOT,
        env={**env, "CRMHUB_WEB_ROLE": role, **more},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    urlconf, served = json.loads(result.stdout.strip().splitlines()[-1])
    return urlconf, served


def test_a_console_process_serves_no_sandbox_url():
    urlconf, served = _resolved("console")
    assert urlconf == "crmhub.urls"
    assert served["/login/"] and served["/admin/"] and served["/"]
    assert not served[COLLECT_LOGIN]
    assert not served[RUN_ACTION_SET]


def test_a_sandbox_process_serves_the_sandbox_alone():
    urlconf, served = _resolved("sandbox")
    assert urlconf == "crmhub.urls_sandbox"
    assert served[COLLECT_LOGIN] and served[RUN_ACTION_SET]
    assert not served["/login/"] and not served["/admin/"] and not served["/"]


def test_one_process_of_role_all_serves_both():
    urlconf, served = _resolved("all")
    assert urlconf == "crmhub.urls"
    assert all(served.values()), served
    # Without the sandbox (production), nothing of it.
    _, without = _resolved("all", CRMHUB_SANDBOX="0")
    assert without["/login/"] and not without[COLLECT_LOGIN]


def test_the_role_is_one_of_three_and_a_sandbox_process_needs_the_sandbox():
    assert read_web_role({}, sandbox=True) == "all"
    assert read_web_role({"CRMHUB_WEB_ROLE": " Console "}, sandbox=False) == "console"
    with pytest.raises(ImproperlyConfigured, match="'all', 'console' or 'sandbox'"):
        read_web_role({"CRMHUB_WEB_ROLE": "worker"}, sandbox=True)
    with pytest.raises(ImproperlyConfigured, match="CRMHUB_SANDBOX=1"):
        read_web_role({"CRMHUB_WEB_ROLE": "sandbox"}, sandbox=False)


@pytest.mark.django_db(databases="__all__")
@override_settings(ROOT_URLCONF="crmhub.urls_sandbox")
def test_the_sandbox_urlconf_answers_a_sandbox_call_and_not_the_console():
    from crmhub.sandbox.services import sandbox_credentials, sandbox_seed

    sandbox_seed(people=3, kinds=("collect",))
    kind_settings, kind_secrets = sandbox_credentials(kind="collect")
    client = Client()
    answer = client.post(
        COLLECT_LOGIN,
        {"op_id": kind_settings["operator_id"], "op_password": kind_secrets["password"]},
        content_type="application/json",
        headers={"x-collect-database": kind_settings["database"]},
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["token"]
    assert client.get("/login/").status_code == 404


def _socket_opened(path: str) -> list[dict[str, Any]]:
    """Open a Web Socket on ``crmhub.asgi`` at ``path``, close it; return what it sent."""
    from crmhub.asgi import application

    sent: list[dict[str, Any]] = []
    incoming = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(3600)
        return {}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": path, "headers": [], "query_string": b""}
    asyncio.run(asyncio.wait_for(application(scope, receive, send), 10))  # type: ignore[arg-type]
    return sent


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_only_a_process_serving_the_sandbox_opens_the_collect_socket(settings):
    settings.CRMHUB_WEB_ROLE = "console"
    assert _socket_opened(WEBSOCKET_PATH) == [{"type": "websocket.close", "code": 4404}]
    settings.CRMHUB_WEB_ROLE = "sandbox"
    opened = _socket_opened(WEBSOCKET_PATH)
    assert opened[0]["type"] == "websocket.accept"
    assert "websocket-id" in json.loads(opened[1]["text"])
