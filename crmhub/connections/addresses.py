"""Where a connection may point, and who may point it there.

A superuser may let one connection reach private networks (a self-hosted server, the
sandbox) and, by a separate switch, link-local and cloud metadata addresses. Both switches
are a superuser's approval of one address. So:

* a change of the address (or of any address the connection derives from it, like the
  Collect! Web Socket) by anyone else is checked with both switches off, whatever the
  connection has stored;
* when someone else moves the connection to another scheme, host or port, the switches go
  off with the move (the new host must not later resolve to a private address: DNS
  rebinding), and the stored credentials are dropped by ``connection_save`` (they were given
  for the old host and are never sent to the new one).

The verdict on an address comes from the connectors' outbound guard (``address_allowed``),
which checks every connection again at connect time; this module only decides which rules
apply and resolves host names through ``resolve_host`` (the seam tests replace).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from crmhub.connections.kinds import KINDS
from crmhub.connectors import errors
from crmhub.connectors.http.guard import address_allowed, check_base_url, parse_ip

#: Names that are the local host whatever DNS says (RFC 6761) or that /etc/hosts maps there.
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True)
class AddressPolicy:
    """What a connection's addresses may be: private networks, link-local/metadata."""

    allow_private: bool = False
    allow_link_local: bool = False


STRICT = AddressPolicy()


def resolve_host(host: str, port: int) -> list[str]:
    """Return the addresses ``host`` resolves to (raises ``socket.gaierror``)."""
    infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def origin(url: str) -> tuple[str, str, int | None]:
    """Return the scheme, host and port of ``url`` (the default port when none is given)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return (url, "", None)
    scheme = parts.scheme.lower()
    return (scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme))


def address_changed(old: str, new: str) -> bool:
    """Return whether ``new`` names another scheme, host or port than ``old``."""
    return origin(old) != origin(new)


def connection_addresses(*, kind: str, base_url: str, settings: Mapping[str, Any]) -> list[str]:
    """Return every address a connection of ``kind`` opens, as its CRM declares them (its
    base URL, a Web Socket...)."""
    crm = KINDS.get(kind)
    return list(crm.connection_addresses(base_url, settings)) if crm else [base_url]


def address_policy(
    *, may_allow: bool, changed: bool, allow_private: bool, allow_link_local: bool
) -> AddressPolicy:
    """Return the rules a connection's address is checked by.

    ``may_allow``: the user may allow private networks (a superuser). ``changed``: the
    address is being changed. The switches are the connection's (as stored, or as the
    superuser just set them).
    """
    if changed and not may_allow:
        return STRICT
    return AddressPolicy(allow_private=allow_private, allow_link_local=allow_link_local)


def address_refusal(url: str, *, policy: AddressPolicy) -> str:
    """Return why ``url`` may not be used under ``policy`` ("" when it may).

    A host name that cannot be resolved now is not refused here: the guard checks the
    address again each time a connection is opened.
    """
    try:
        check_base_url(
            url.replace("ws://", "http://", 1).replace("wss://", "https://", 1),
            allow_private=policy.allow_private,
            allow_link_local=policy.allow_link_local,
            resolve=False,
        )
    except errors.BlockedAddress as exc:
        return str(exc)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not policy.allow_private and _is_local_name(host):
        return (
            f"{host} is this machine, an address this connection is not allowed to reach "
            "(only a superuser may allow private networks)."
        )
    literal = parse_ip(host)
    try:
        found = [str(literal)] if literal else resolve_host(host, origin(url)[2] or 80)
    except (OSError, UnicodeError):
        return ""
    for address in found:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not address_allowed(
            ip, allow_private=policy.allow_private, allow_link_local=policy.allow_link_local
        ):
            return _refusal_text(host, ip, policy)
    return ""


def _is_local_name(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name in LOCAL_NAMES or name.endswith(".localhost")


def _refusal_text(
    host: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, policy: AddressPolicy
) -> str:
    where = host if host == str(ip) else f"{host} ({ip})"
    if policy.allow_private:
        return (
            f"{where} is a link-local, cloud metadata or reserved address this connection is "
            "not allowed to reach."
        )
    return (
        f"{where} is a private, loopback, link-local or reserved address this connection is "
        "not allowed to reach (only a superuser may allow private networks)."
    )
