from typing import Any

from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser

from botsite.json_limits import json_loads_limited


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class LimitedJSONParser(JSONParser):
    """JSON bodies up to API_MAX_BODY_BYTES, nested up to JSON_MAX_DEPTH; DRF reads the
    stream itself, past Django's cap."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.API_MAX_BODY_BYTES
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise RequestTooLarge(f"The request body is over {limit} bytes.")
        try:
            return json_loads_limited(
                body.decode((parser_context or {}).get("encoding") or "utf-8")
            )
        except (ValueError, UnicodeDecodeError) as error:
            raise ParseError(f"JSON parse error - {error}") from error


def _length_check(parser_context: Any) -> None:
    """Refuse a body whose declared length is over API_MAX_BODY_BYTES, before parsing it.

    Every body reaching Django has a length: the server-wide cap
    (botsite/request_limits.py) gives one to a chunked body when it reads it in."""
    request = (parser_context or {}).get("request")
    limit = settings.API_MAX_BODY_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
    except ValueError:
        length = 0
    if length > limit:
        raise RequestTooLarge(f"The request body is over {limit} bytes.")


class LimitedFormParser(FormParser):
    """Form bodies up to API_MAX_BODY_BYTES (DRF's own reads any size)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        _length_check(parser_context)
        return super().parse(stream, media_type, parser_context)


class LimitedMultiPartParser(MultiPartParser):
    """Multipart bodies, files included, up to API_MAX_BODY_BYTES."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        _length_check(parser_context)
        return super().parse(stream, media_type, parser_context)
