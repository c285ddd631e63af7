"""The client's address as the proxies in front of daphne saw it, only from proxies we trust.

daphne's `--proxy-headers` takes the *first* X-Forwarded-For entry, which the client writes
itself (a proxy appends the address it saw to what the client sent): any client could pick
its address, escape per-address limits or spend another's. So daphne runs without it, and
this reads X-Forwarded-For from the right, past the proxies named in `TRUSTED_PROXIES`:
the first address no trusted proxy owns is the client's. A peer that is no trusted proxy
is the client itself, whatever headers it sends.
"""

import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from functools import cache
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _is_trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _header_values(scope: dict[str, Any], name: bytes) -> list[str]:
    return [value.decode("latin-1") for key, value in scope.get("headers", []) if key == name]


def client_from_proxies(scope: dict[str, Any], trusted: tuple[str, ...]) -> tuple[str, str | None]:
    """The client's address and, when a trusted proxy said so, the scheme it was reached by."""
    peer = (scope.get("client") or (None,))[0]
    networks = _networks(trusted)
    if peer is None or not _is_trusted(peer, networks):
        return peer, None
    hops = [
        hop.strip()
        for value in _header_values(scope, b"x-forwarded-for")
        for hop in value.split(",")
    ]
    client = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # not an address: whoever wrote it is no proxy of ours; the last hop stands
        client = hop
        if not _is_trusted(hop, networks):
            break
    protos = _header_values(scope, b"x-forwarded-proto")
    return client, protos[-1].split(",")[-1].strip().lower() if protos else None


class ClientAddressMiddleware:
    """Puts the client's address (and the scheme the proxy was reached by) into the scope of
    HTTP requests and WebSockets that came through a trusted proxy."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        trusted = tuple(settings.TRUSTED_PROXIES)
        if trusted and scope["type"] in ("http", "websocket") and scope.get("client"):
            client, proto = client_from_proxies(scope, trusted)
            scope = {**scope, "client": (client, 0)}
            if proto in ("http", "https"):
                secure = proto == "https"
                if scope["type"] == "websocket":
                    scope["scheme"] = "wss" if secure else "ws"
                else:
                    scope["scheme"] = proto
        await self.app(scope, receive, send)
