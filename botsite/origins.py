"""Web origins (scheme, host, port), compared exactly: is an `Origin` header this site's own,
or one of a list?

The site's own origins are SITE_URL's, each of CSRF_TRUSTED_ORIGINS (as Django's CSRF check
reads them, `https://*.example.com` included), and the request's own: its scheme with its
`Host` header, when that host is in ALLOWED_HOSTS. Another port or another scheme of an
allowed host is another site (a page there could otherwise use a visitor's cookies here).
"""

from typing import NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int


def origin_parse(value: str | None) -> Origin | None:
    """The origin `value` names (`https://Shop.example:443/` → https, shop.example, 443), or
    None when it names none (`null`, other schemes, paths, credentials)."""
    if not value:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:  # a port that is no number, or out of range
        return None
    return Origin(parts.scheme, parts.hostname, port)


def _request_origin(host_header: str | None, *, is_secure: bool) -> Origin | None:
    if not host_header:
        return None
    domain, port = split_domain_port(host_header)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    scheme = "https" if is_secure else "http"
    return Origin(scheme, domain.strip("[]"), int(port) if port else DEFAULT_PORTS[scheme])


def _trusted_origin_matches(origin: Origin, entry: str) -> bool:
    if "://*." not in entry:
        return origin == origin_parse(entry)
    pattern = origin_parse(entry.replace("://*.", "://", 1))
    return (
        pattern is not None
        and (origin.scheme, origin.port) == (pattern.scheme, pattern.port)
        and is_same_domain(origin.host, "." + pattern.host)
    )


def origin_is_sites_own(origin: Origin, *, host_header: str | None, is_secure: bool) -> bool:
    """Is `origin` one of this site's own origins (see the module's docstring)?"""
    if origin == origin_parse(settings.SITE_URL):
        return True
    if origin == _request_origin(host_header, is_secure=is_secure):
        return True
    return any(_trusted_origin_matches(origin, entry) for entry in settings.CSRF_TRUSTED_ORIGINS)


def origin_in(origin: Origin, entries: list[str]) -> bool:
    """Is `origin` exactly one of `entries` (origins as staff typed them)?"""
    return any(origin == origin_parse(entry) for entry in entries)
