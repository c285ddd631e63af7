"""Subscriptions of rooms, email addresses and webhook endpoints, and unsubscribing by
the signed link of an email."""

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction

from botsite.db import instance_delete
from conversations.models import Participant, Room
from publishers.deliveries import UNSUBSCRIBE_SALT
from publishers.exceptions import PublishingError, SubscriptionInvalid
from publishers.models import Publisher, Subscription
from webhooks.exceptions import WebhookUrlRefused
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_create


def subscription_create(
    *,
    publisher: Publisher,
    destination: str,
    room: Room | None = None,
    email: str = "",
    endpoint: WebhookEndpoint | None = None,
    webhook_url: str = "",
    participant: Participant | None = None,
    tag: str = "",
) -> tuple[Subscription, str | None]:
    """Subscribe a room, an email address or a webhook to a publisher.

    A webhook given by URL gets a new endpoint of the publisher's bot; its signing secret
    is returned (shown once), else None. Raises `SubscriptionInvalid` and changes nothing
    when a value is wrong, the URL is refused or the subscription exists.
    """
    with transaction.atomic():
        secret = None
        if destination == Subscription.Destination.WEBHOOK and endpoint is None and webhook_url:
            try:
                endpoint, secret = webhook_endpoint_create(url=webhook_url, bot=publisher.bot)
            except WebhookUrlRefused as error:
                raise SubscriptionInvalid(
                    error.detail, fields={"webhook_url": [error.detail]}
                ) from error
        subscription = Subscription(
            publisher=publisher,
            destination=destination,
            room=room,
            email=email.strip().lower() if email else "",
            endpoint=endpoint,
            participant=participant,
            tag=tag.strip().lower(),
        )
        try:
            subscription.full_clean()
        except ValidationError as error:
            raise SubscriptionInvalid(
                "; ".join(error.messages), fields=error.message_dict
            ) from error
        subscription.save()
    return subscription, secret


def subscription_delete(*, subscription: Subscription) -> None:
    """Delete a subscription; its deliveries go with it."""
    instance_delete(subscription)


def subscription_from_token(*, token: str) -> Subscription | None:
    """The subscription an unsubscribe link names, or None for a bad or stale link."""
    try:
        subscription_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return Subscription.objects.select_related("publisher").filter(pk=subscription_id).first()


def subscription_unsubscribe(*, token: str) -> Subscription:
    """One-click unsubscribe from an email link; raises `PublishingError` for a bad token."""
    subscription = subscription_from_token(token=token)
    if subscription is None:
        raise PublishingError("This unsubscribe link is not valid.", code="bad_token")
    Subscription.objects.filter(pk=subscription.pk).update(is_active=False)
    subscription.is_active = False
    return subscription
