"""The outbound-address guard: a connection reaches only the addresses it is allowed to.

Only http(s) base URLs; no loopback or private address unless the connection allows
private networks (a self-hosted server on the LAN, the sandbox), no link-local or cloud
metadata address unless it also has the separate link-local switch on, and never
multicast, unspecified or reserved ones. The check is made on the address a socket
actually connects to, so a host name that resolves differently later (DNS rebinding)
gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from crmhub.connectors.errors import BlockedAddress, Unavailable

#: Carried by the connection error of a refused address, so the transport can tell it apart.
BLOCKED_MARKER = "crmhub-blocked-address"


#: Link-local and cloud metadata addresses (169.254.169.254 and its IPv6 twin fd00:ec2::254
#: answer with instance credentials). Refused even where private networks are allowed, unless
#: the connection's separate link-local switch is on.
LINK_LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "169.254.0.0/16",  # IPv4 link-local: AWS, GCP, Azure, OCI metadata
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "192.0.0.192/32",  # Oracle Cloud metadata (classic)
    )
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """Return the IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
    return [address for address in found if address is not None]


def is_link_local(ip: IPAddress) -> bool:
    """Return whether ``ip`` is link-local or a cloud metadata address (see above)."""
    return any(ip.version == net.version and ip in net for net in LINK_LOCAL_NETWORKS)


def address_allowed(ip: IPAddress, *, allow_private: bool, allow_link_local: bool = False) -> bool:
    """Return whether a connection may be opened to ``ip``.

    Only globally routable addresses are allowed, unless ``allow_private`` (a self-hosted
    server on the LAN, or the built-in sandbox), which still never allows multicast,
    unspecified (0.0.0.0, ::) or reserved addresses, nor link-local and metadata addresses
    unless ``allow_link_local``. An IPv6 address carrying an IPv4 one must pass for both.
    """
    for candidate in (ip, *_embedded_ipv4(ip)):
        if not _single_allowed(
            candidate, allow_private=allow_private, allow_link_local=allow_link_local
        ):
            return False
    return True


def _single_allowed(ip: IPAddress, *, allow_private: bool, allow_link_local: bool) -> bool:
    if is_link_local(ip):
        return allow_link_local
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return True  # judged by the IPv4 address it maps to
    if ip.is_loopback:  # ::1 lies in IPv6's reserved ::/8, but is loopback like 127.0.0.1
        return allow_private
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return False
    return allow_private or ip.is_global


def parse_ip(host: str) -> IPAddress | None:
    """Return the address ``host`` names as a literal, in any form a resolver accepts.

    Besides the usual notations this reads the ones ``inet_aton`` does (2130706433,
    0177.0.0.1, 0x7f.1, 127.1), so a numeric host is judged without any lookup.
    """
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if host and all(ch in "0123456789abcdefxABCDEFX." for ch in host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def resolve_checked(
    host: str, port: int, *, allow_private: bool, allow_link_local: bool = False
) -> list[tuple[Any, ...]]:
    """Resolve ``host`` and return its addresses; raise ``BlockedAddress`` if any is refused."""
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unavailable(f"Cannot resolve host {host!r}.", request_sent=False) from exc
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address_allowed(ip, allow_private=allow_private, allow_link_local=allow_link_local):
            raise BlockedAddress(
                f"{host} resolves to {ip}, a private, loopback, link-local or reserved address "
                "this connection is not allowed to reach."
            )
    return infos


def check_base_url(
    url: str, *, allow_private: bool, allow_link_local: bool = False, resolve: bool = True
) -> None:
    """Raise ``BlockedAddress`` unless ``url`` is an http(s) URL this connection may reach."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError:
        raise BlockedAddress("The base URL is not a valid web address.") from None
    if parts.scheme not in ("http", "https"):
        raise BlockedAddress("The base URL must start with http:// or https://.")
    if not parts.hostname:
        raise BlockedAddress("The base URL has no host name.")
    if parts.username or parts.password:
        raise BlockedAddress("The base URL must not contain a user name or password.")
    try:
        parts.hostname.encode("idna")  # as the resolver will (empty or over-long labels...)
    except UnicodeError:
        raise BlockedAddress("The base URL's host name is not valid.") from None
    if resolve:
        resolve_checked(
            parts.hostname,
            port or (443 if parts.scheme == "https" else 80),
            allow_private=allow_private,
            allow_link_local=allow_link_local,
        )


def _guarded_new_conn(
    conn: HTTPConnection, allow_private: bool, allow_link_local: bool
) -> socket.socket:
    try:
        infos = socket.getaddrinfo(conn._dns_host, conn.port, 0, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    error: OSError | None = None
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not address_allowed(ip, allow_private=allow_private, allow_link_local=allow_link_local):
            raise NewConnectionError(conn, f"{BLOCKED_MARKER} {ip}")
    for family, socktype, proto, _, sockaddr in infos:
        sock = socket.socket(family, socktype, proto)
        try:
            if conn.timeout is not None:
                sock.settimeout(conn.timeout)
            sock.connect(sockaddr)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out.") from exc
        except OSError as exc:
            sock.close()
            error = exc
    raise NewConnectionError(conn, f"Failed to establish a new connection: {error}")


@cache
def _pool_classes(allow_private: bool, allow_link_local: bool) -> dict[str, type]:
    class GuardedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _guarded_new_conn(self, allow_private, allow_link_local)

    class GuardedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _guarded_new_conn(self, allow_private, allow_link_local)

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}


class GuardedAdapter(HTTPAdapter):
    """A transport adapter whose connections check the address they connect to."""

    def __init__(self, *, allow_private: bool, allow_link_local: bool = False) -> None:
        self.allow_private = allow_private
        self.allow_link_local = allow_link_local
        super().__init__(max_retries=0, pool_connections=4, pool_maxsize=4)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(
            self.allow_private, self.allow_link_local
        )
