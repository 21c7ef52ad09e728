"""The shared HTTP client against hostile servers: every failure typed, bounded, redacted."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crmhub.connectors import errors
from crmhub.connectors.http import HttpClient, check_base_url, transport
from crmhub.connectors.http.failures import parse_retry_after
from crmhub.connectors.http.guard import address_allowed
from tests.connectors.hostile import answer, hostile_server, slow_drip

KEY = "K3Y-0123456789ABCDEF0123456789ABCDEF"


def client(url: str, **kwargs) -> HttpClient:  # type: ignore[no-untyped-def]
    return HttpClient(
        base_url=url,
        allow_private_network=True,
        timeout=(1.0, 1.0),
        secret_values=[KEY],
        secret_fields=["apikey"],
        **kwargs,
    )


def test_a_good_answer_is_returned_and_recorded_without_the_key():
    with hostile_server(answer(200, b'{"ok": true}')) as (url, _):
        http = client(url)
        response = http.request("POST", "Method.aspx", data={"apikey": KEY, "x": "1"})
    assert response.json() == {"ok": True}
    (call,) = http.drain_calls()
    assert call.status == 200
    assert KEY not in json.dumps(call.as_dict())
    assert call.request["form"]["x"] == "1"


@pytest.mark.parametrize(
    ("status", "error", "retryable"),
    [
        (401, errors.AuthFailed, False),
        (403, errors.AuthFailed, False),
        (404, errors.NotFound, False),
        (422, errors.Rejected, False),
        (500, errors.Unavailable, True),
        (502, errors.Unavailable, True),
    ],
)
def test_statuses_map_to_the_error_family(status, error, retryable):
    with hostile_server(answer(status, b"nope")) as (url, _), pytest.raises(error) as caught:
        client(url).request("GET", "x")
    assert caught.value.retryable is retryable
    assert caught.value.status == status


@pytest.mark.parametrize("header", ["30", "Wed, 21 Oct 2099 07:28:00 GMT"])
def test_429_carries_retry_after_in_both_forms(header):
    with hostile_server(answer(429, b"", {"Retry-After": header})) as (url, _):
        with pytest.raises(errors.RateLimited) as caught:
            client(url).request("GET", "x")
    assert caught.value.retry_after is not None and caught.value.retry_after >= 30
    assert caught.value.request_sent is False


def test_parse_retry_after_ignores_garbage():
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_a_redirect_to_another_host_is_not_followed_and_the_key_not_resent():
    with hostile_server(answer(200, b"stolen")) as (evil, evil_seen):
        handler = answer(307, b"", {"Location": evil + "steal"})
        with hostile_server(handler) as (url, _):
            with pytest.raises(errors.BadResponse, match="redirect"):
                client(url).request("POST", "Method.aspx", data={"apikey": KEY})
    assert evil_seen.requests == []


def test_html_instead_of_json_is_a_bad_response():
    with hostile_server(answer(200, b"<html><body>Maintenance</body></html>")) as (url, _):
        response = client(url).request("GET", "x")
    with pytest.raises(errors.BadResponse, match="did not answer with JSON"):
        response.json()


def test_json_nested_ten_thousand_deep_is_a_bad_response():
    body = b"[" * 10_000 + b"]" * 10_000
    with hostile_server(answer(200, body)) as (url, _):
        response = client(url).request("GET", "x")
    with pytest.raises(errors.BadResponse):
        response.json()


def test_a_huge_body_is_refused_without_reading_it_all():
    with hostile_server(answer(200, b"x" * 3_000_000)) as (url, _):
        with pytest.raises(errors.BadResponse, match=r"larger than|too large"):
            client(url, max_body=1_000_000).request("GET", "x")


def test_a_slow_drip_body_ends_within_the_deadline():
    started = time.monotonic()
    with hostile_server(slow_drip(chunks=40, delay=0.2)) as (url, _):
        with pytest.raises(errors.Unavailable) as caught:
            client(url).request("GET", "x")
    assert time.monotonic() - started < 5
    assert caught.value.request_sent is True


def test_a_read_timeout_after_sending_says_the_request_was_sent():
    def hang(request):  # type: ignore[no-untyped-def]
        time.sleep(2)

    with hostile_server(hang) as (url, seen), pytest.raises(errors.Unavailable) as caught:
        client(url).request("POST", "x", data={"a": "1"})
    assert caught.value.request_sent is True
    assert seen.requests, "the server did receive the request"


def test_connection_refused_says_nothing_was_sent():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(errors.Unavailable) as caught:
        client(f"http://127.0.0.1:{port}/").request("POST", "x", data={"a": "1"})
    assert caught.value.request_sent is False
    assert caught.value.retryable


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://169.254.169.254/",
        "http://10.0.0.8/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://localhost/",
    ],
)
def test_private_and_loopback_addresses_are_refused_at_connect_time(url):
    http = HttpClient(base_url=url, allow_private_network=False, timeout=(1.0, 1.0))
    with pytest.raises(errors.BlockedAddress):
        http.request("GET", "x")
    with pytest.raises(errors.BlockedAddress):
        check_base_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x/", "ftp://x/", "http://u:p@x/"])
def test_other_schemes_and_credentials_in_urls_are_refused(url):
    with pytest.raises(errors.BlockedAddress):
        check_base_url(url, allow_private=True, resolve=False)


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch):
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host == "intranet.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.9.8.7", 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(errors.BlockedAddress, match=r"10\.9\.8\.7"):
        check_base_url("http://intranet.example.com/", allow_private=False)


def test_dns_rebinding_is_caught_by_the_connect_time_check(monkeypatch):
    """Public at validation time, loopback when connecting: the socket is never opened."""
    answers = iter(["93.184.215.14", "127.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host == "rebind.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    check_base_url("http://rebind.example.com/", allow_private=False)
    http = HttpClient(
        base_url="http://rebind.example.com/", allow_private_network=False, timeout=(1.0, 1.0)
    )
    with pytest.raises(errors.BlockedAddress):
        http.request("GET", "x")


def test_multicast_and_unspecified_are_refused_even_on_private_networks():
    import ipaddress

    assert not address_allowed(ipaddress.ip_address("0.0.0.0"), allow_private=True)  # noqa: S104
    assert not address_allowed(ipaddress.ip_address("224.0.0.1"), allow_private=True)
    assert address_allowed(ipaddress.ip_address("10.1.1.1"), allow_private=True)
    assert not address_allowed(ipaddress.ip_address("10.1.1.1"), allow_private=False)


@contextmanager
def keep_alive_server() -> Iterator[tuple[str, list[tuple[int, str]]]]:
    """Serve HTTP/1.1 with persistent connections, setting a cookie; yield (base URL, the
    (client port, Cookie header) of each request)."""
    seen: list[tuple[int, str]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.append((self.client_address[1], self.headers.get("Cookie", "")))
            self.send_response(200)
            self.send_header("Set-Cookie", "session=from-the-last-client")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", seen
    finally:
        server.shutdown()
        server.server_close()


def one_call(url: str, *, keep_alive: bool) -> None:
    http = client(url, keep_alive=keep_alive)
    try:
        http.request("GET", "x")
        http.request("GET", "y")  # within one client the cookie is kept, as always
    finally:
        http.close()


def test_kept_alive_clients_reuse_the_connection_but_not_the_cookies():
    with keep_alive_server() as (url, seen):
        one_call(url, keep_alive=True)
        one_call(url, keep_alive=True)
    ports = {port for port, _ in seen}
    assert len(seen) == 4 and len(ports) == 1, "one connection for both clients"
    assert [cookie for _, cookie in seen] == ["", "session=from-the-last-client"] * 2


def test_clients_not_kept_alive_and_idle_kept_sessions_connect_anew(monkeypatch):
    with keep_alive_server() as (url, seen):
        one_call(url, keep_alive=False)
        one_call(url, keep_alive=False)
        monkeypatch.setattr(transport, "KEEP_ALIVE_SECONDS", 0.0)
        one_call(url, keep_alive=True)
        time.sleep(0.01)
        one_call(url, keep_alive=True)
    ports = [port for port, _ in seen]
    assert len(set(ports)) == 4, "a connection per client"
    assert ports[0::2] == ports[1::2], "and one within each"


# -- a request ahead --------------------------------------------------------------------------
class _ThreadsPacer:
    """A pacer that lets every request go and has every rate-limited one sent again,
    noting the thread of each question."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def before_request(self) -> None:
        self.asked.append(("before_request", threading.current_thread().name))

    def rate_limited(self, error: errors.RateLimited) -> bool:
        self.asked.append(("rate_limited", threading.current_thread().name))
        return True


def test_a_request_ahead_returns_before_its_answer_comes():
    released = threading.Event()
    seen: list[bool] = []

    def handle(request: BaseHTTPRequestHandler) -> None:
        seen.append(released.wait(5))  # answers only once the caller got its handle back
        answer(200, b'{"ok": true}')(request)

    with hostile_server(handle) as (url, recorder):
        http = client(url)
        pending = http.request_ahead("POST", "Method.aspx", data={"apikey": KEY})
        released.set()
        response = pending.result()
    assert seen == [True]
    assert response.json() == {"ok": True}
    assert len(recorder.requests) == 1
    (call,) = http.drain_calls()
    assert call.status == 200 and KEY not in json.dumps(call.as_dict())


def test_a_request_ahead_is_paced_in_the_callers_thread_and_sent_again_after_a_429():
    statuses = iter([429, 200])

    def handle(request: BaseHTTPRequestHandler) -> None:
        answer(next(statuses), b"{}")(request)

    pacer = _ThreadsPacer()
    with hostile_server(handle) as (url, recorder):
        http = client(url)
        http.pacer = pacer
        response = http.request_ahead("GET", "x").result()
    assert response.status == 200
    assert len(recorder.requests) == 2
    me = threading.current_thread().name
    assert pacer.asked == [("before_request", me), ("rate_limited", me), ("before_request", me)]


def test_a_failed_request_ahead_raises_in_the_caller_and_leaves_no_thread():
    with hostile_server(answer(500, b"nope")) as (url, _):
        pending = client(url).request_ahead("GET", "x")
        with pytest.raises(errors.Unavailable):
            pending.result()
        pending.wait()  # a caller leaving after an error: nothing left to wait for
    assert not [t for t in threading.enumerate() if t.name == "http-read-ahead"]
