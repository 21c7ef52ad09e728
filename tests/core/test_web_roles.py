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


def _http(keep_alive: bool) -> list[tuple[bytes, bytes]]:
    """Ask ``crmhub.asgi`` for the sign-in page; return its response's headers."""
    from crmhub.asgi import application

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/login/",
        "raw_path": b"/login/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"connection", b"keep-alive")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    with override_settings(CRMHUB_WEB_KEEP_ALIVE=keep_alive, ALLOWED_HOSTS=["testserver"]):
        asyncio.run(asyncio.wait_for(application(scope, receive, send), 30))  # type: ignore[arg-type]
    start = next(message for message in sent if message["type"] == "http.response.start")
    assert start["status"] == 200
    return list(start["headers"])


@pytest.mark.django_db(transaction=True)
def test_a_console_process_closes_each_connection_after_its_response():
    """Console processes share one listening socket: a kept connection would tie a browser
    to the process that accepted it, however loaded; closed, its next request goes to the
    process free to accept it. Other processes keep connections (the server's default)."""
    closed = _http(keep_alive=False)
    assert [value for name, value in closed if name.lower() == b"connection"] == [b"close"]
    kept = _http(keep_alive=True)
    assert not [value for name, value in kept if name.lower() == b"connection"]


def test_keep_alive_is_off_in_console_processes_only():
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMHUB_")}
    code = "import crmhub.settings as s; print(s.CRMHUB_WEB_KEEP_ALIVE)"

    def keep_alive(**more: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**env, **more},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout.strip()

    assert keep_alive(CRMHUB_WEB_ROLE="console") == "False"
    assert keep_alive(CRMHUB_WEB_ROLE="sandbox") == "True"
    assert keep_alive(CRMHUB_WEB_ROLE="all") == "True"
    assert keep_alive(CRMHUB_WEB_ROLE="console", CRMHUB_WEB_KEEP_ALIVE="1") == "True"
