"""Who an anonymous web chat visitor is: a signed, expiring token that survives reloads.

The chat page keeps it in an HttpOnly cookie; the widget and other clients keep it in
their own storage and present it in the socket's `hello` frame (never in a URL).
"""

import uuid

from django.conf import settings
from django.core import signing

from conversations.connectors.base import inbound_text_problem

SALT = "botsite.visitor"
COOKIE_NAME = "botsite_visitor"


def visitor_token_issue() -> tuple[str, str]:
    """A new visitor id and its signed token."""
    visitor = uuid.uuid4().hex
    return visitor, signing.dumps({"v": visitor}, salt=SALT, compress=True)


def visitor_token_read(token: object) -> str | None:
    """The visitor id of a valid, unexpired token; None otherwise."""
    if not isinstance(token, str) or len(token) > 500 or inbound_text_problem(token):
        return None  # signing would fail to encode a lone surrogate, not refuse it
    try:
        payload = signing.loads(token, salt=SALT, max_age=settings.CHAT_VISITOR_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    visitor = payload.get("v") if isinstance(payload, dict) else None
    return visitor if isinstance(visitor, str) else None
