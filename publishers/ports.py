"""The ports of the publishing app that a worker hands to actions."""

from django.db import IntegrityError, transaction

from conversations.models import Participant, Room
from engine.ports import SubscriptionView
from publishers.models import Publisher, Subscription


class SubscriptionsFromDatabase:
    """Subscriptions of one room, made by one participant, to its bot's publishers."""

    def __init__(self, *, room: Room, participant: Participant | None) -> None:
        self.room = room
        self.participant = participant

    def _publisher(self, slug: str) -> Publisher:
        try:
            return Publisher.objects.get(bot_id=self.room.bot_id, slug=slug, is_enabled=True)
        except Publisher.DoesNotExist:
            raise LookupError(slug) from None

    def publishers(self) -> list[SubscriptionView]:
        return [
            SubscriptionView(publisher=p.slug, name=p.name, tag="")
            for p in Publisher.objects.filter(bot_id=self.room.bot_id, is_enabled=True)
        ]

    def subscribe(self, *, publisher: str, tag: str) -> bool:
        subscription = Subscription(
            publisher=self._publisher(publisher),
            participant=self.participant,
            destination=Subscription.Destination.ROOM,
            room=self.room,
            tag=tag.lower(),
        )
        subscription.full_clean(validate_constraints=False)
        existing = Subscription.objects.filter(
            publisher=subscription.publisher, room=self.room, tag=subscription.tag
        )
        if existing.filter(is_active=True).exists():
            return False
        if existing.update(is_active=True):
            return True
        try:
            with transaction.atomic():
                subscription.save()
        except IntegrityError:  # subscribed at the same moment from elsewhere
            return False
        return True

    def unsubscribe(self, *, publisher: str) -> int:
        return Subscription.objects.filter(
            publisher=self._publisher(publisher), room=self.room, is_active=True
        ).update(is_active=False)

    def list(self) -> list[SubscriptionView]:
        return [
            SubscriptionView(publisher=s.publisher.slug, name=s.publisher.name, tag=s.tag)
            for s in Subscription.objects.filter(room=self.room, is_active=True)
            .select_related("publisher")
            .order_by("publisher__slug", "tag")
        ]
