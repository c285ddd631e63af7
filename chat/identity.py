"""Who is on a web chat socket: a user, or an anonymous visitor known by a signed,
expiring token that survives reloads.

The chat page keeps it in an HttpOnly cookie; the widget and other clients keep it in
their own storage and present it in the socket's `hello` frame (never in a URL).
"""

import hashlib
import uuid
from typing import Any

from django.conf import settings
from django.core import signing

from conversations.connectors.base import ConnectorIdentity, inbound_text_problem

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


def chat_identity(
    *, bot_slug: str, user: Any, cookie: str | None, visitor_token: object = None
) -> tuple[ConnectorIdentity, str | None]:
    """Who is on this socket, and the visitor token to hand back (None for known users).

    A logged-in user is themselves. An anonymous visitor is the one their signed token
    names (from `hello`, else the chat page's cookie); without a valid one they become a
    new visitor with a new token. Every web chat participant has a one-to-one room.
    """
    if user is not None and user.is_authenticated:
        external_id, name, token, user_id = f"user:{user.pk}", user.get_username(), None, user.pk
    else:
        presented = visitor_token if isinstance(visitor_token, str) else None
        if (visitor := visitor_token_read(presented)) is not None:
            token = presented
        elif (visitor := visitor_token_read(cookie)) is not None:
            token = cookie
        else:
            visitor, token = visitor_token_issue()
        # Only a digest is stored, so the participants table holds no usable credential.
        external_id = f"visitor:{hashlib.sha256(visitor.encode()).hexdigest()[:32]}"
        name, user_id = "Visitor", None
    return (
        ConnectorIdentity(
            bot_slug=bot_slug,
            room_external_id=external_id,
            participant_external_id=external_id,
            participant_name=name,
            is_direct=True,
            user_id=user_id,
        ),
        token,
    )
