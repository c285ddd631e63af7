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
import time
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
    # "localhost." is the same name as "localhost"; and every *.localhost name is loopback
    # by definition (RFC 6761), whatever a resolver says.
    name = host.rstrip(".").lower()
    is_allowed = name in {h.rstrip(".").lower() for h in settings.HTTP_ALLOWED_HOSTS}
    if not is_allowed and (name == "localhost" or name.endswith(".localhost")):
        raise OutboundError(f"{host} is a private or local address; it is not allowed.")
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise OutboundError(f"{host} cannot be resolved.", is_transient=True) from error
    addresses = sorted({str(answer[4][0]) for answer in answers})
    if not is_allowed and not all(_is_public(address) for address in addresses):
        raise OutboundError(f"{host} is a private or local address; it is not allowed.")
    return Target(url=url, host=host, address=addresses[0])


@dataclass(frozen=True)
class Answer:
    """What a server answered: status, headers (lower-case names) and the body read."""

    status: int
    headers: dict[str, str]
    body: bytes


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    timeout: float | None = None,
    max_bytes: int | None = None,
    is_body_cut: bool = False,
) -> Answer:
    """Send one request to a checked, pinned address; never follow a redirect.

    Any status is returned as it is (callers decide what a 4xx means to them); refusals,
    timeouts, network errors and answers over the size limit raise `OutboundError`.
    `timeout` bounds the whole exchange, so a server that drips its answer is cut off too.
    With `is_body_cut`, a body over the size limit is cut there instead of being an error
    (for callers that only need the status).
    """
    target = target_resolve(url)
    parts = urlsplit(target.url)
    address = f"[{target.address}]" if ":" in target.address else target.address
    netloc = address + (f":{parts.port}" if parts.port else "")
    pinned = urlunsplit(parts._replace(netloc=netloc))
    limit = max_bytes if max_bytes is not None else settings.HTTP_MAX_RESPONSE_BYTES
    seconds = timeout if timeout is not None else settings.HTTP_TIMEOUT_SECONDS
    deadline = time.monotonic() + seconds
    try:
        with (
            httpx.Client(timeout=seconds, follow_redirects=False) as client,
            client.stream(
                method,
                pinned,
                content=content,
                headers={"Host": parts.netloc, "User-Agent": USER_AGENT, **(headers or {})},
                extensions={"sni_hostname": target.host},
            ) as response,
        ):
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit and is_body_cut:
                    del body[limit:]
                    break
                if len(body) > limit:
                    raise OutboundError(f"The answer is larger than {limit} bytes.")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the whole answer took too long")
            answer_headers = {name.lower(): value for name, value in response.headers.items()}
            return Answer(status=response.status_code, headers=answer_headers, body=bytes(body))
    except httpx.TimeoutException as error:
        raise OutboundError("The server took too long to answer.", is_transient=True) from error
    except httpx.HTTPError as error:
        raise OutboundError(
            f"The request failed: {type(error).__name__}.", is_transient=True
        ) from error


def content_get(url: str, *, accept: str) -> bytes:
    """GET a document within the time and size limits; a redirect or 4xx/5xx is an error."""
    answer = request("GET", url, headers={"Accept": accept})
    if 300 <= answer.status < 400:
        raise OutboundError("The server answered with a redirect, which is not followed.")
    if answer.status >= 400:
        raise OutboundError(
            f"The server answered {answer.status}.",
            is_transient=answer.status >= 500 or answer.status == 429,
        )
    return answer.body


def json_get(url: str) -> Any:
    """GET a JSON document, within the time and size limits; raises `OutboundError`."""
    body = content_get(url, accept="application/json")
    try:
        return json.loads(body)
    except ValueError as error:
        raise OutboundError("The answer is not JSON.") from error
