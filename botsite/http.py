"""The only outbound HTTP client: timeouts, a size cap, no redirects, no private networks.

User- and staff-supplied URLs must not reach the machine's own services or the private
network behind it (SSRF). Every host name is resolved here, every address it resolves to
is checked, and the connection goes to the checked address (so a DNS answer cannot
change between the check and the connect). Operators may allow named hosts explicitly
with `HTTP_ALLOWED_HOSTS`.
"""

import ipaddress
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings

USER_AGENT = "Botsite/0.1 (+https://github.com/botsite)"


class OutboundError(Exception):
    """The request was refused or failed; the message is safe to show to users.

    `is_transient` says whether trying again later may succeed (a timeout, a 5xx), as
    opposed to a refusal that will not change (a private address, a 404, a huge answer).
    """

    def __init__(self, message: str, *, is_transient: bool = False) -> None:
        super().__init__(message)
        self.is_transient = is_transient


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    address: str


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def target_resolve(url: str) -> Target:
    """Check a URL and pick the address to connect to; raises `OutboundError`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundError("Only http and https URLs with a host name are allowed.")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise OutboundError(f"{host} cannot be resolved.", is_transient=True) from error
    addresses = sorted({str(answer[4][0]) for answer in answers})
    is_allowed = host.lower() in {h.lower() for h in settings.HTTP_ALLOWED_HOSTS}
    if not is_allowed and not all(_is_public(address) for address in addresses):
        raise OutboundError(f"{host} is a private or local address; it is not allowed.")
    return Target(url=url, host=host, address=addresses[0])


def json_get(url: str) -> Any:
    """GET a JSON document, within the time and size limits; raises `OutboundError`."""
    target = target_resolve(url)
    parts = urlsplit(target.url)
    address = f"[{target.address}]" if ":" in target.address else target.address
    netloc = address + (f":{parts.port}" if parts.port else "")
    pinned = urlunsplit(parts._replace(netloc=netloc))
    limit = settings.HTTP_MAX_RESPONSE_BYTES
    try:
        with (
            httpx.Client(timeout=settings.HTTP_TIMEOUT_SECONDS, follow_redirects=False) as client,
            client.stream(
                "GET",
                pinned,
                headers={
                    "Host": parts.netloc,
                    "User-Agent": USER_AGENT,
                    "Accept": "application/json",
                },
                extensions={"sni_hostname": target.host},
            ) as response,
        ):
            if response.is_redirect:
                raise OutboundError("The server answered with a redirect, which is not followed.")
            if response.status_code >= 400:
                raise OutboundError(
                    f"The server answered {response.status_code}.",
                    is_transient=response.status_code >= 500 or response.status_code == 429,
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise OutboundError(f"The answer is larger than {limit} bytes.")
    except httpx.TimeoutException as error:
        raise OutboundError("The server took too long to answer.", is_transient=True) from error
    except httpx.HTTPError as error:
        raise OutboundError(
            f"The request failed: {type(error).__name__}.", is_transient=True
        ) from error
    try:
        return json.loads(body)
    except ValueError as error:
        raise OutboundError("The answer is not JSON.") from error
