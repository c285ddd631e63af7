"""Subscriptions of rooms, email addresses and webhook endpoints, and unsubscribing by
the signed link of an email."""

from typing import TypedDict, Unpack

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
from webhooks.services import webhook_endpoint_build


class SubscriptionFields(TypedDict, total=False):
    """What a subscription may name besides its publisher and destination."""

    room: Room | None
    email: str
    endpoint: WebhookEndpoint | None
    webhook_url: str
    participant: Participant | None
    tag: str


def subscription_create(
    *, publisher: Publisher, destination: str, **fields: Unpack[SubscriptionFields]
) -> tuple[Subscription, str | None]:
    """Subscribe a room, an email address or a webhook to a publisher.

    A webhook given by URL gets a new endpoint of the publisher's bot; its signing secret
    is returned (shown once), else None. Raises `SubscriptionInvalid` and changes nothing
    when a value is wrong, the URL is refused or the subscription exists.
    """
    subscription = _subscription_checked(publisher=publisher, destination=destination, **fields)
    with transaction.atomic():
        secret = None
        if subscription.endpoint is not None and subscription.endpoint.pk is None:
            subscription.endpoint.save()
            secret = subscription.endpoint.secret
        subscription.save()
    return subscription, secret


def subscription_check(
    *, publisher: Publisher, destination: str, **fields: Unpack[SubscriptionFields]
) -> None:
    """Raise the `SubscriptionInvalid` that `subscription_create` would, writing nothing:
    the admin's form checks with it, so the admin and the API refuse the same things."""
    _subscription_checked(publisher=publisher, destination=destination, **fields)


def _subscription_checked(
    *,
    publisher: Publisher,
    destination: str,
    room: Room | None = None,
    email: str = "",
    endpoint: WebhookEndpoint | None = None,
    webhook_url: str = "",
    participant: Participant | None = None,
    tag: str = "",
) -> Subscription:
    """The subscription, validated and not saved; a webhook given by URL comes with its
    new endpoint, validated and not saved either."""
    is_new_endpoint = (
        destination == Subscription.Destination.WEBHOOK and endpoint is None and bool(webhook_url)
    )
    if is_new_endpoint:
        try:
            endpoint = webhook_endpoint_build(url=webhook_url, bot=publisher.bot)
        except WebhookUrlRefused as error:
            raise SubscriptionInvalid(
                error.detail, fields={"webhook_url": [error.detail]}
            ) from error
        except ValidationError as error:
            detail = "; ".join(error.messages)
            raise SubscriptionInvalid(detail, fields={"webhook_url": error.messages}) from error
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
        # A new endpoint has no row to check yet: no subscription can hold it already.
        subscription.full_clean(exclude=["endpoint"] if is_new_endpoint else None)
    except ValidationError as error:
        raise SubscriptionInvalid("; ".join(error.messages), fields=error.message_dict) from error
    return subscription


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
