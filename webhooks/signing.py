"""Standard Webhooks signatures (https://www.standardwebhooks.com/), via its reference library."""

import base64
import secrets
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format marker, not a secret)


def secret_generate() -> str:
    """A new endpoint secret in the standard's form: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature_headers(
    *, secret: str, message_id: str, timestamp: datetime, body: str
) -> dict[str, str]:
    """The three headers a receiver verifies: id, timestamp and the HMAC-SHA256 signature."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, timestamp, body),
    }
