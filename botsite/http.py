"""The only outbound HTTP client: timeouts, a size cap, no redirects, no private networks.

User- and staff-supplied URLs must not reach the machine's own services or the private
network behind it (SSRF). Every host name is resolved here, every address it resolves to
is checked, and the connection goes to the checked address (so a DNS answer cannot
change between the check and the connect). The same check runs when staff save a URL
(`url_check`, `url_validator`), so a refused URL is an error at once, not at every run.
Operators may allow hosts explicitly with `HTTP_ALLOWED_HOSTS`: `host` allows its default
ports (80, 443), `host:port` that port only. The bridge's network connections (IRC,
XMPP, Matrix servers) follow the same rule (`endpoint_check`).
"""

import ipaddress
import socket
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError

from botsite.json_limits import JsonTooDeep, json_loads_limited

USER_AGENT = "Botsite/0.1 (+https://github.com/botsite)"
#: The encodings asked for, and the only ones decoded (by `_decoded`, with a bound).
ACCEPT_ENCODING = "gzip, deflate"
DEFAULT_PORTS = frozenset({80, 443})
#: Decoded bytes produced per step: what one step may cost in memory, whatever the ratio.
DECODE_STEP_BYTES = 64 * 1024

# IPv6 prefixes whose last 32 bits are an IPv4 address that the packet ends up at: NAT64
# (RFC 6052), SIIT's IPv4-translated (RFC 2765) and the deprecated IPv4-compatible ::/96.
_IPV4_TAIL_PREFIXES = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
    ipaddress.IPv6Network("::/96"),
)
# Local-use NAT64 (RFC 8215): a private translator by definition, wherever it points.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


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


def _ipv4_inside(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64...)."""
    inside = []
    if ip.ipv4_mapped:
        inside.append(ip.ipv4_mapped)
    if ip.sixtofour:
        inside.append(ip.sixtofour)
    if ip.teredo:
        inside.extend(ip.teredo)  # the relay server and the client behind it
    if any(ip in prefix for prefix in _IPV4_TAIL_PREFIXES):
        inside.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return inside


def address_is_public(address: str) -> bool:
    """Whether an address (as a resolver gives it) may be connected to without allowing.

    An IPv6 address that embeds an IPv4 address is judged by that address too: a NAT64 or
    6to4 form of 127.0.0.1 reaches 127.0.0.1.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local or ip in _LOCAL_NAT64:
            return False
        return all(address_is_public(str(inner)) for inner in _ipv4_inside(ip))
    return True


def _host_normal(host: str) -> str:
    name = host.strip().strip("[]").rstrip(".").lower()
    try:
        return ipaddress.ip_address(name).compressed
    except ValueError:
        return name


def _allowed_entry(entry: str) -> tuple[str, int | None]:
    """`HTTP_ALLOWED_HOSTS` entries: `host`, `host:port`, `[v6]:port`, or a bare IPv6."""
    entry = entry.strip()
    host, port = entry, None
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":") if rest else None
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    if not host or (port is not None and not (port.isdigit() and 0 < int(port) < 65536)):
        raise ImproperlyConfigured(
            f"HTTP_ALLOWED_HOSTS entry {entry!r}: give host or host:port (a port 1-65535)."
        )
    return _host_normal(host), int(port) if port else None


def host_is_allowed(host: str, port: int) -> bool:
    """Whether operators allowed this host on this port (a bare entry: ports 80 and 443)."""
    name = _host_normal(host)
    for entry in settings.HTTP_ALLOWED_HOSTS:
        allowed, allowed_port = _allowed_entry(entry)
        if allowed == name and (
            port == allowed_port or (allowed_port is None and port in DEFAULT_PORTS)
        ):
            return True
    return False


def addresses_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for a host; raises `socket.gaierror`."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(answer[4][0]) for answer in answers})


def target_resolve(url: str) -> Target:
    """Check a URL and pick the address to connect to; raises `OutboundError`."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise OutboundError(f"The URL has a bad port: {error}.") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundError("Only http and https URLs with a host name are allowed.")
    host = parts.hostname
    return Target(url=url, host=host, address=endpoint_check(host, port)[0])


def endpoint_check(host: str, port: int) -> list[str]:
    """The addresses a connection to `host` on `port` may go to (every one public, or the
    host allowed on that port by operators); raises `OutboundError` otherwise. URLs pass
    here through `target_resolve`; the bridge's networks (an IRC server, an XMPP server)
    pass here when their settings are saved and tested."""
    refused = OutboundError(f"{host} is a private or local address; it is not allowed.")
    is_allowed = host_is_allowed(host, port)
    # "localhost." is the same name as "localhost"; and every *.localhost name is loopback
    # by definition (RFC 6761), whatever a resolver says.
    name = _host_normal(host)
    if not is_allowed and (name == "localhost" or name.endswith(".localhost")):
        raise refused
    try:
        addresses = addresses_resolve(host, port)
    except (socket.gaierror, UnicodeError) as error:
        raise OutboundError(f"{host} cannot be resolved.", is_transient=True) from error
    if not addresses or (not is_allowed and not all(map(address_is_public, addresses))):
        raise refused
    return addresses


def url_check(url: str) -> str:
    """Refuse, with `OutboundError`, a URL that no request could be sent to; return it.

    What staff and integrators save (feeds, JSON endpoints, API calls, webhooks) passes
    here first; the same check runs again at each connect, since DNS answers change.
    """
    target_resolve(url)
    return url


def endpoint_validator(host: str, port: int) -> None:
    """`endpoint_check` for forms: a `ValidationError` with its message."""
    try:
        endpoint_check(host, port)
    except OutboundError as error:
        raise ValidationError(str(error), code="host_refused") from error


def url_validator(url: str) -> None:
    """`url_check` as a Django validator, for the forms and serializers that take URLs."""
    try:
        url_check(url)
    except OutboundError as error:
        raise ValidationError(str(error), code="url_refused") from error


def _inflated(chunks: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    """Decode one content coding, never more than `DECODE_STEP_BYTES` at a step: a bomb
    (a few KB that inflate to GBs) costs no more memory than a plain answer."""
    if encoding in ("identity", ""):
        yield from chunks
        return
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise OutboundError(f"The answer uses an unsupported Content-Encoding: {encoding}.")
    wbits = zlib.MAX_WBITS | 16 if encoding != "deflate" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    is_first = True
    try:
        for chunk in chunks:
            if is_first and encoding == "deflate" and chunk and chunk[0] & 0x0F != 8:
                inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, no zlib header
            is_first = is_first and not chunk
            data = chunk
            yield b""  # the reader counts what was read, even when nothing decodes from it
            while data and not inflater.eof:
                yield inflater.decompress(data, DECODE_STEP_BYTES)
                data = inflater.unconsumed_tail
        while not inflater.eof and (piece := inflater.decompress(b"", DECODE_STEP_BYTES)):
            yield piece
    except zlib.error as error:
        raise OutboundError(f"The answer's {encoding} encoding is broken: {error}.") from error


def _decoded(response: httpx.Response) -> Iterator[bytes]:
    """The body as sent before its content codings, decoded step by step."""
    chunks: Iterable[bytes] = response.iter_raw()
    codings = [c.strip() for c in response.headers.get("content-encoding", "").lower().split(",")]
    codings = [c for c in codings if c and c != "identity"]
    # One coding at most, as asked: each layer of a stack would inflate its own bomb before
    # the cap on the last one's output applied, and a thousand layers recurse past Python's.
    if len(codings) > 1:
        raise OutboundError(f"The answer is encoded {len(codings)} times over; one is the most.")
    for coding in codings:
        chunks = _inflated(chunks, coding)
    return iter(chunks)


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
                headers={
                    "Host": parts.netloc,
                    "User-Agent": USER_AGENT,
                    "Accept-Encoding": ACCEPT_ENCODING,
                    **(headers or {}),
                },
                extensions={"sni_hostname": target.host},
            ) as response,
        ):
            body = bytearray()
            for chunk in _decoded(response):
                body += chunk
                # Bytes read count too, not only bytes decoded: junk after the end of a
                # compressed stream decodes to nothing and must not be read for ever.
                is_over = max(len(body), response.num_bytes_downloaded) > limit
                if is_over and is_body_cut:
                    del body[limit:]
                    break
                if is_over:
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
        return json_loads_limited(body.decode("utf-8") if isinstance(body, bytes) else body)
    except JsonTooDeep as error:
        raise OutboundError(f"The answer is {error}") from error
    except ValueError as error:  # UnicodeDecodeError included
        raise OutboundError("The answer is not JSON.") from error
