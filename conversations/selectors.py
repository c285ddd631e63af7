"""Read-only queries of the conversations app."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q

from conversations.models import Message, Participant, Room
from engine.messages import OutboundMessage, ParticipantInfo, RoomInfo

#: A reconnecting socket is sent again what was stored this long before its last message.
CATCHUP_OVERLAP_SECONDS = 30


def room_info(room: Room) -> RoomInfo:
    return RoomInfo(
        id=room.pk, connector=room.connector, is_direct=room.is_direct, mood=room.effective_mood
    )


def participant_info(participant: Participant) -> ParticipantInfo:
    return ParticipantInfo(
        id=participant.pk,
        name=str(participant),
        trust_level=participant.trust_level,
        is_ignored=participant.is_ignored,
    )


def message_outbound(message: Message) -> OutboundMessage:
    return OutboundMessage(
        id=message.pk,
        room_id=message.room_id,
        sender_kind=message.sender_kind,
        sender_name=message.sender_name,
        text=message.text,
        html=message.html,
        created_at=message.created_at.isoformat(),
    )


def messages_recent(*, room_id: int, after_id: int | None = None) -> list[OutboundMessage]:
    """What a socket is sent on connect, oldest first: the room's recent history, or,
    after `after_id`, everything it missed (up to `CHAT_CATCHUP_LIMIT`).

    After `after_id` also comes what was stored shortly before that message: ids are
    taken at insert and transactions commit in any order, so a worker's reply with a
    lower id can become visible after a message the socket already saw. Clients show
    each id once.
    """
    queryset = Message.objects.filter(room_id=room_id).select_related("participant", "room__bot")
    if after_id is not None:
        missed = Q(id__gt=after_id)
        seen_at = queryset.filter(id=after_id).values_list("created_at", flat=True).first()
        if seen_at is not None:
            overlap = timedelta(seconds=CATCHUP_OVERLAP_SECONDS)
            missed |= Q(id__lt=after_id, created_at__gte=seen_at - overlap)
        catchup = queryset.filter(missed).order_by("id")[: settings.CHAT_CATCHUP_LIMIT]
        return [message_outbound(message) for message in catchup]
    newest = list(queryset.order_by("-id")[: settings.CHAT_HISTORY_LIMIT])
    return [message_outbound(message) for message in reversed(newest)]
