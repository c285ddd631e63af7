"""Bots, rooms and participants as connectors meet them: the enabled bot, the room of
one place, the participant by their network identity; the chat's Origin rule."""

from datetime import timedelta

from django.utils import timezone

from botsite.origins import origin_in, origin_is_sites_own, origin_parse
from conversations.connectors.base import ConnectorIdentity
from conversations.exceptions import BotNotFound
from conversations.models import Bot, Participant, Room

#: How stale `Participant.last_seen_at` may get before a message writes it again.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def bot_get_enabled(*, slug: str) -> Bot:
    try:
        return Bot.objects.get(slug=slug, is_enabled=True)
    except Bot.DoesNotExist:
        raise bot_not_found(slug) from None


def bot_not_found(slug: str) -> BotNotFound:
    return BotNotFound(f"There is no bot {slug!r}, or it is switched off.")


def room_open(
    *, bot: Bot, connector: str, external_id: str, is_direct: bool, title: str = ""
) -> Room:
    """The bot's room at this place on this connector, created on first contact."""
    room, _ = Room.objects.get_or_create(
        bot=bot,
        connector=connector,
        external_id=external_id,
        defaults={"is_direct": is_direct, "title": title},
    )
    return room


def participant_identify(
    *, bot: Bot, connector: str, external_id: str, name: str, user_id: int | None = None
) -> Participant:
    """The participant behind an identity, created on first contact, seen now."""
    participant, created = Participant.objects.get_or_create(
        bot=bot,
        connector=connector,
        external_id=external_id,
        defaults={"display_name": name, "user_id": user_id, "last_seen_at": timezone.now()},
    )
    if not created:
        participant_seen(participant)
    return participant


def participant_seen(participant: Participant) -> None:
    """Note that the participant is around, at most once per `LAST_SEEN_RESOLUTION`: a
    write per message would cost more than the minute it tells."""
    now = timezone.now()
    if participant.last_seen_at is None or now - participant.last_seen_at > LAST_SEEN_RESOLUTION:
        Participant.objects.filter(pk=participant.pk).update(last_seen_at=now)
        participant.last_seen_at = now


def chat_origin_allowed(
    *, bot_slug: str, origin: str | None, host: str | None = None, is_secure: bool = False
) -> bool:
    """May a browser page of `origin` open the bot's chat socket (reached at `host`, over
    TLS or not)? The site's own origins may (`botsite.origins`); other sites only if staff
    listed them on the bot (for the embedded widget). Scheme, host and port must match."""
    parsed = origin_parse(origin)
    if parsed is None:
        return False
    if origin_is_sites_own(parsed, host_header=host, is_secure=is_secure):
        return True
    allowed = Bot.objects.filter(slug=bot_slug).values_list("allowed_origins", flat=True).first()
    return origin_in(parsed, allowed or [])


def chat_room_open(*, identity: ConnectorIdentity, connector: str) -> Room:
    """Open (or reopen) the room of a live chat identity, checking the bot is there."""
    bot = bot_get_enabled(slug=identity.bot_slug)
    participant_identify(
        bot=bot,
        connector=connector,
        external_id=identity.participant_external_id,
        name=identity.participant_name,
        user_id=identity.user_id,
    )
    return room_open(
        bot=bot,
        connector=connector,
        external_id=identity.room_external_id,
        is_direct=identity.is_direct,
    )
