"""Sign-in lock-out counts the real client address behind trusted proxies (issue 15, point 3).

Requests go through the ASGI application the web server runs (``crmhub.asgi``), with the
connecting peer's address set as the server would set it, so a trusted proxy, an untrusted
one and a client that connects directly can each be played. One test also runs the real
uvicorn server the way ``Procfile`` starts it (``--no-proxy-headers``).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any

import pytest
import requests
from axes.models import AccessAttempt
from django.core.exceptions import ImproperlyConfigured

from crmhub.asgi import application
from crmhub.bench.processes import free_port
from crmhub.core import env

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

PROXY = "10.0.0.2"
PASSWORD = "pw-operator"  # the ``operator`` fixture's
LIMIT = 5


class Browser:
    """A browser signing in through the ASGI application from one peer address."""

    def __init__(self, peer: str) -> None:
        self.peer = peer
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: bytes = b"", headers: list[tuple[bytes, bytes]] = ()
    ) -> tuple[int, str]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items()).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "client": (self.peer, 40000),
            "server": ("127.0.0.1", 8000),
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"cookie", cookie),
                (b"content-type", b"application/x-www-form-urlencoded"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
        sent: list[dict[str, Any]] = []
        incoming = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if incoming:
                return incoming.pop(0)
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        asyncio.run(application(scope, receive, send))
        start = next(m for m in sent if m["type"] == "http.response.start")
        for name, value in start["headers"]:
            if name.lower() == b"set-cookie":
                for key, morsel in SimpleCookie(value.decode()).items():
                    self.cookies[key] = morsel.value
        body_out = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return start["status"], body_out.decode(errors="replace")

    def sign_in(self, password: str, *, forwarded_for: str | None = None) -> int:
        """Post the sign-in form (with its CSRF token); return the status (302 = signed in)."""
        status, page = self.request("GET", "/login/")
        assert status == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token is not None
        body = f"csrfmiddlewaretoken={token[1]}&username=operator&password={password}"
        headers = [(b"x-forwarded-for", forwarded_for.encode())] if forwarded_for else []
        status, _ = self.request("POST", "/login/", body.encode(), headers)
        return status


def _fail(browser: Browser, times: int, forwarded_for: str | None = None) -> list[int]:
    return [browser.sign_in("wrong", forwarded_for=forwarded_for) for _ in range(times)]


def _attempts() -> dict[str, int]:
    return dict(AccessAttempt.objects.values_list("ip_address", "failures_since_start"))


def test_behind_a_trusted_proxy_each_client_is_counted_apart(operator, settings):
    settings.CRMHUB_TRUSTED_PROXIES = [PROXY]
    proxy = Browser(PROXY)
    statuses = _fail(proxy, LIMIT, forwarded_for="203.0.113.7")
    assert statuses[-1] == 429  # the fifth failure locks 203.0.113.7 out
    assert _attempts() == {"203.0.113.7": LIMIT}
    assert proxy.sign_in(PASSWORD, forwarded_for="203.0.113.7") == 429
    # Another client behind the same proxy is not locked out by the first one.
    assert Browser(PROXY).sign_in(PASSWORD, forwarded_for="198.51.100.9") == 302


def test_a_client_cannot_pick_its_address_through_a_trusted_proxy(operator, settings):
    """The proxy appends the peer it saw: only the right-most untrusted address counts."""
    settings.CRMHUB_TRUSTED_PROXIES = ["10.0.0.0/24"]
    proxy = Browser(PROXY)
    for spoofed in ("1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4", "5.5.5.5"):
        proxy.sign_in("wrong", forwarded_for=f"{spoofed}, 203.0.113.7, 10.0.0.9")
    assert _attempts() == {"203.0.113.7": LIMIT}
    assert proxy.sign_in(PASSWORD, forwarded_for="6.6.6.6, 203.0.113.7") == 429


def test_an_untrusted_x_forwarded_for_changes_nothing(operator, settings):
    settings.CRMHUB_TRUSTED_PROXIES = [PROXY]
    direct = Browser("192.0.2.50")
    statuses = [
        direct.sign_in("wrong", forwarded_for=f"198.51.100.{n}") for n in range(1, LIMIT + 1)
    ]
    assert statuses[-1] == 429
    assert _attempts() == {"192.0.2.50": LIMIT}
    # A new X-Forwarded-For does not escape the lock-out of the address that really sent it.
    assert direct.sign_in(PASSWORD, forwarded_for="198.51.100.99") == 429


def test_without_trusted_proxies_the_header_is_ignored_even_from_loopback(operator, settings):
    settings.CRMHUB_TRUSTED_PROXIES = []
    _fail(Browser("127.0.0.1"), 2, forwarded_for="203.0.113.7")
    assert _attempts() == {"127.0.0.1": 2}


def test_the_trusted_proxies_are_addresses_or_networks():
    assert env.read_networks({"X": "10.0.0.5, 10.1.0.0/16,::1"}, "X") == [
        "10.0.0.5",
        "10.1.0.0/16",
        "::1",
    ]
    assert env.read_networks({}, "X") == []
    for junk in ("proxy.example.com", "10.0.0.0/99", "*"):
        with pytest.raises(ImproperlyConfigured, match="not an IP address or network"):
            env.read_networks({"X": junk}, "X")


# -- the real server, started like Procfile starts it ----------------------------------------
@pytest.fixture
def uvicorn_server(settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        access_log=False,
        proxy_headers=False,  # --no-proxy-headers, as in Procfile
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _sign_in_over_http(base: str, forwarded_for: str) -> int:
    session = requests.Session()
    page = session.get(base + "/login/", timeout=10).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    response = session.post(
        base + "/login/",
        data={"csrfmiddlewaretoken": token[1], "username": "operator", "password": "wrong"},
        headers={"X-Forwarded-For": forwarded_for},
        allow_redirects=False,
        timeout=10,
    )
    return response.status_code


def test_over_uvicorn_only_a_trusted_peer_forwards_the_client_address(
    operator, settings, uvicorn_server
):
    settings.CRMHUB_TRUSTED_PROXIES = []  # uvicorn's own default would trust 127.0.0.1
    _sign_in_over_http(uvicorn_server, "203.0.113.7")
    assert _attempts() == {"127.0.0.1": 1}
    settings.CRMHUB_TRUSTED_PROXIES = ["127.0.0.1"]
    _sign_in_over_http(uvicorn_server, "203.0.113.7")
    assert _attempts() == {"127.0.0.1": 1, "203.0.113.7": 1}
