"""Signed webhooks, sent once per attempt and classified; endpoint health bookkeeping.

The machinery is shared: publishing deliveries and the API's event webhooks both keep
their own delivery rows and call `webhook_send` for each attempt, then
`webhook_outcome_record` with what it returned, and retry after `webhook_retry_seconds`.
"""

import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from botsite import http
from conversations.models import Bot
from webhooks.exceptions import WebhookUrlRefused
from webhooks.models import WebhookEndpoint
from webhooks.signing import secret_generate, signature_headers

logger = logging.getLogger(__name__)


class Result(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # a 5xx, a 429, a timeout, a network error: try again later
    GONE = "gone"  # 410: the receiver asks us to stop; the endpoint is disabled
    FAILED = "failed"  # another 4xx, a redirect, a refused address: retrying will not help


@dataclass(frozen=True)
class Outcome:
    result: Result
    status: int | None = None
    #: Seconds the receiver asked us to wait (429/503 `Retry-After`), if it said.
    retry_after_seconds: float | None = None
    error: str = ""


def webhook_url_check(url: str) -> str:
    """Refuse a URL that may not receive webhooks; return it unchanged otherwise.

    The same check runs again at each connect (DNS answers can change), so this is the
    early, clear error for whoever registers the URL.
    """
    try:
        return http.url_check(url)
    except http.OutboundError as error:
        raise WebhookUrlRefused(str(error)) from error


def webhook_endpoint_create(
    *, url: str, owner_email: str = "", bot: Bot | None = None, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its secret, which is shown this once."""
    endpoint = webhook_endpoint_build(
        url=url, owner_email=owner_email, bot=bot, description=description
    )
    endpoint.save()
    return endpoint, endpoint.secret


def webhook_endpoint_build(
    *, url: str, owner_email: str = "", bot: Bot | None = None, description: str = ""
) -> WebhookEndpoint:
    """The endpoint `webhook_endpoint_create` would register, checked, not saved. Raises
    `WebhookUrlRefused` for a refused URL, `ValidationError` for any other bad value."""
    endpoint = WebhookEndpoint(
        url=webhook_url_check(url),
        owner_email=owner_email,
        bot=bot,
        description=description,
        secret=secret_generate(),
    )
    endpoint.full_clean()
    return endpoint


def webhook_endpoint_secret_rotate(*, endpoint: WebhookEndpoint) -> str:
    """Give the endpoint a new secret and return it (shown once); the old one stops at once."""
    endpoint.secret = secret_generate()
    endpoint.secret_rotated_at = timezone.now()
    endpoint.save(update_fields=["secret", "secret_rotated_at"])
    return endpoint.secret


def webhook_endpoint_enable(*, endpoint: WebhookEndpoint) -> None:
    """Enable an endpoint again, with a clean failure record."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_enabled=True,
        disabled_reason="",
        disabled_at=None,
        failure_streak=0,
        first_failure_at=None,
    )
    endpoint.refresh_from_db()


def webhook_endpoint_disable(
    *, endpoint_id: int, reason: str, error: str = "", notify: bool = True
) -> bool:
    """Disable an enabled endpoint; tell its owner once. Returns whether this call did it."""
    changed = WebhookEndpoint.objects.filter(pk=endpoint_id, is_enabled=True).update(
        is_enabled=False, disabled_reason=reason, disabled_at=timezone.now()
    )
    if changed and notify:
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
        logger.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
        if endpoint.owner_email:
            transaction.on_commit(lambda: _owner_tell(endpoint, error))
    return bool(changed)


def _owner_tell(endpoint: WebhookEndpoint, error: str) -> None:
    reason = WebhookEndpoint.DisabledReason(endpoint.disabled_reason).label
    try:
        send_mail(
            subject=f"Webhook endpoint disabled: {endpoint.url}",
            message=(
                f"We stopped sending webhooks to {endpoint.url}.\n\n"
                f"Why: {reason}.\nLast error: {error or endpoint.last_error or '-'}\n\n"
                "Fix the receiver, then enable the endpoint again in the admin or the API; "
                "deliveries that were due meanwhile are kept and can be retried."
            ),
            from_email=None,
            recipient_list=[endpoint.owner_email],
        )
    except Exception:  # the endpoint is disabled either way; a mail failure must not undo it
        logger.exception("could not tell the owner of webhook endpoint %s", endpoint.pk)


def webhook_payload(*, event_type: str, data: dict[str, Any], timestamp: datetime) -> str:
    """The body in the standard's recommended shape: type, timestamp, data."""
    return json.dumps(
        {"type": event_type, "timestamp": timestamp.isoformat(), "data": data},
        separators=(",", ":"),
        sort_keys=True,
        default=str,
    )


def webhook_send(
    *, endpoint: WebhookEndpoint, message_id: str, event_type: str, data: dict[str, Any]
) -> Outcome:
    """POST one signed webhook and say what happened; never raises for the receiver's sake.

    `message_id` must be the same on every retry of one message (receivers deduplicate
    with it). The address is checked again here, redirects are not followed.
    """
    if not endpoint.is_enabled:
        return Outcome(Result.FAILED, error="The endpoint is disabled.")
    timestamp = timezone.now()
    body = webhook_payload(event_type=event_type, data=data, timestamp=timestamp)
    headers = {
        "Content-Type": "application/json",
        **signature_headers(
            secret=endpoint.secret, message_id=message_id, timestamp=timestamp, body=body
        ),
    }
    try:
        answer = http.request(
            "POST",
            endpoint.url,
            headers=headers,
            content=body.encode(),
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            max_bytes=settings.WEBHOOK_MAX_ANSWER_BYTES,
            is_body_cut=True,
        )
    except http.OutboundError as error:
        return Outcome(Result.RETRY if error.is_transient else Result.FAILED, error=str(error))
    return outcome_classify(answer)


def outcome_classify(answer: http.Answer) -> Outcome:
    status = answer.status
    if 200 <= status < 300:
        return Outcome(Result.DELIVERED, status=status)
    error = f"The receiver answered {status}."
    if status == 410:
        return Outcome(Result.GONE, status=status, error=error)
    if status in (408, 425, 429) or status >= 500:
        retry_after = retry_after_parse(answer.headers.get("retry-after", ""))
        return Outcome(Result.RETRY, status=status, retry_after_seconds=retry_after, error=error)
    if 300 <= status < 400:
        error = f"The receiver answered {status} (a redirect, which is not followed)."
    return Outcome(Result.FAILED, status=status, error=error)


def retry_after_parse(value: str) -> float | None:
    """`Retry-After` as seconds from now: delay-seconds or an HTTP date (RFC 9110)."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - timezone.now()).total_seconds())


def webhook_retry_seconds(*, attempts: int, retry_after: float | None = None) -> float:
    """How long to wait before attempt `attempts + 1`: the receiver's `Retry-After` when it
    gave one, else exponential backoff with jitter (half fixed, half random), capped."""
    cap: float = settings.WEBHOOK_RETRY_MAX_SECONDS
    if retry_after is not None:
        return min(float(cap), max(1.0, retry_after))
    ceiling: float = min(cap, settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 (jitter, not a secret)


def webhook_outcome_record(*, endpoint_id: int, outcome: Outcome) -> None:
    """Keep the endpoint's health: a success clears the failure run; 410 disables it; a run
    of failures both long (in count) and old (in time) disables it and tells the owner."""
    now = timezone.now()
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint_id)
    if outcome.result == Result.DELIVERED:
        endpoints.exclude(failure_streak=0, first_failure_at=None).update(
            failure_streak=0, first_failure_at=None
        )
        endpoints.update(last_success_at=now)
        return
    if outcome.result == Result.GONE:
        endpoints.update(last_error=outcome.error)
        webhook_endpoint_disable(
            endpoint_id=endpoint_id,
            reason=WebhookEndpoint.DisabledReason.GONE,
            error=outcome.error,
        )
        return
    endpoints.update(failure_streak=F("failure_streak") + 1, last_error=outcome.error[:2000])
    endpoints.filter(first_failure_at=None).update(first_failure_at=now)
    failing_since = now - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS)
    is_too_long = endpoints.filter(
        failure_streak__gte=settings.WEBHOOK_DISABLE_AFTER_FAILURES,
        first_failure_at__lte=failing_since,
    ).exists()
    if is_too_long:
        webhook_endpoint_disable(
            endpoint_id=endpoint_id,
            reason=WebhookEndpoint.DisabledReason.FAILING,
            error=outcome.error,
        )
