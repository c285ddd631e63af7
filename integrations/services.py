import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from botsite.db import queryset_delete
from conversations.models import Bot
from integrations.exceptions import IdempotencyKeyReused, TokenScopeTooWide
from integrations.models import TOKEN_PREFIX, ApiToken, EventDelivery, IdempotencyKey

IDEMPOTENCY_NAMESPACE = uuid.UUID("5d0c7c1e-2f0e-4d8a-9a51-0f6f3c8f7b21")
#: last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_token_create(
    *,
    name: str,
    user: Any,
    bots: list[Bot],
    scope: str,
    expires_at: datetime | None = None,
    may_create_tokens: bool = False,
    created_by: ApiToken | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns it and its full secret string, which is never shown again."""
    if created_by is not None:
        _scope_check(parent=created_by, bots=bots, scope=scope, expires_at=expires_at)
        may_create_tokens = False
    token = ApiToken(
        name=name,
        user=user,
        scope=scope,
        expires_at=expires_at,
        may_create_tokens=may_create_tokens,
    )
    secret = token.secret_set()
    token.full_clean(exclude=["bots"])
    with transaction.atomic():
        token.save()
        token.bots.set(bots)
    return token, secret


def _scope_check(
    *, parent: ApiToken, bots: list[Bot], scope: str, expires_at: datetime | None
) -> None:
    if not parent.may_create_tokens:
        raise TokenScopeTooWide("This token may not create tokens.")
    if not {bot.pk for bot in bots} <= set(api_token_bot_ids(token=parent)):
        raise TokenScopeTooWide("A new token may only reach bots this token reaches.")
    if scope == ApiToken.Scope.WRITE and not parent.can_write:
        raise TokenScopeTooWide("A read-only token cannot create a write token.")
    if parent.expires_at is not None and (expires_at is None or expires_at > parent.expires_at):
        raise TokenScopeTooWide("A new token must expire no later than this token.")


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token at once; revoking twice keeps the first time."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_bot_ids(*, token: ApiToken) -> list[int]:
    cached = getattr(token, "_bot_ids", None)
    if cached is None:
        cached = sorted(token.bots.values_list("pk", flat=True))
        token._bot_ids = cached  # type: ignore[attr-defined]
    return cached


def api_token_authenticate(*, raw: str) -> ApiToken:
    """The active token for a presented string; AuthenticationFailed (401) otherwise."""
    prefix, _, rest = raw.partition("_")
    key_id, _, secret = rest.partition("_")
    token = (
        ApiToken.objects.select_related("user").filter(key_id=key_id).first()
        if prefix == TOKEN_PREFIX and key_id and secret
        else None
    )
    if token is None or not token.secret_matches(secret):
        raise AuthenticationFailed("Invalid token.", code="token_invalid")
    if token.revoked_at is not None:
        raise AuthenticationFailed("This token has been revoked.", code="token_revoked")
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        raise AuthenticationFailed("This token has expired.", code="token_expired")
    if not token.user.is_active:
        raise AuthenticationFailed("This token's user is inactive.", code="token_invalid")
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        # Conditional, so concurrent requests write once per resolution between them.
        ApiToken.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION),
            pk=token.pk,
        ).update(last_used_at=now)
        token.last_used_at = now
    return token


def idempotency_client_id(*, principal: str, bot: Bot, key: str, body: dict[str, Any]) -> uuid.UUID:
    """The `client_id` a post under this `Idempotency-Key` is stored with: the same for
    every retry, so the message is stored once. The key remembers the body it first came
    with; another body under it is refused (`IdempotencyKeyReused`)."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    try:
        # A savepoint: a concurrent first use of the same key may win the insert.
        with transaction.atomic():
            record, _ = IdempotencyKey.objects.get_or_create(
                principal=principal, bot=bot, key=key, defaults={"request_digest": digest}
            )
    except IntegrityError:
        record = IdempotencyKey.objects.get(principal=principal, bot=bot, key=key)
    if record.request_digest != digest:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with another request body; use a new key."
        )
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{principal}:{bot.pk}:{key}")


def integrations_purge() -> dict[str, int]:
    """Delete idempotency keys past their window and event deliveries sent a week ago;
    returns how many rows of each model went."""
    now = timezone.now()
    keys = IdempotencyKey.objects.filter(
        created_at__lt=now - timedelta(seconds=settings.IDEMPOTENCY_KEY_SECONDS)
    )
    sent = EventDelivery.objects.filter(
        status=EventDelivery.Status.SENT, sent_at__lt=now - timedelta(days=7)
    )
    return {**queryset_delete(keys), **queryset_delete(sent)}
