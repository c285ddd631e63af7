"""Connectors held by bridge processes: their passwords, who holds each (a lease), what the
holder reports, their rooms, and the bot's messages still to relay onto their networks."""

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from botsite.sealed import seal, unseal
from bridge.networks import connection_probe, connection_types
from conversations import realtime
from conversations.connectors.registry import connector_types
from conversations.models import Connector, Message, Participant, Room

#: The holder's reports are written at most this often per connector when nothing changed.
LAST_IN_RESOLUTION = timedelta(seconds=10)
CURSOR_MAX_CHARS = 500
#: How long "test connection" waits for the network to take the bot.
PROBE_SECONDS = 10.0


@dataclass(frozen=True)
class ProbeResult:
    is_connected: bool
    detail: str


def connectors_changed(**signal: Any) -> None:
    """A connector was added, edited, switched or deleted (a saved row: the admin, the API,
    a shell): the bridges hold them anew at once. Leases and reported states are written
    with `update()`, which sends no signal."""
    transaction.on_commit(realtime.connectors_changed_broadcast)


def connector_signals_connect() -> None:
    post_save.connect(connectors_changed, sender=Connector, dispatch_uid="connectors-changed")
    post_delete.connect(connectors_changed, sender=Connector, dispatch_uid="connectors-gone")


def bridged_kinds() -> list[str]:
    return [key for key, _ in connector_types.choices() if connector_types.get(key).is_bridged]


def connector_secret_set(*, connector: Connector, secret: str) -> None:
    """Seal and store the connector's password (empty: none); it is never shown again."""
    connector.secret_sealed = seal(secret)
    connector.save(update_fields=["secret_sealed"])


def connector_secret(connector: Connector) -> str:
    return unseal(connector.secret_sealed)


def connector_probe(connector: Connector, *, timeout: float = PROBE_SECONDS) -> ProbeResult:
    """Test the connector's settings and password: a connection of its own to the network,
    made here and left at once (the bridge's connection, if any, is not touched).

    Called from a thread with no event loop running (a sync view, a command)."""
    if connector.kind not in connection_types:
        label = connector_types.label_for(connector.kind)
        return ProbeResult(False, f"{label} is not a network the bridge connects to.")
    try:
        # Checked again, as every outbound connection is: DNS answers change after a save.
        config = connector_types.config_clean(connector.kind, connector.config)
    except ValidationError as error:
        return ProbeResult(False, f"The settings are refused: {' '.join(error.messages)}")
    state = asyncio.run(
        connection_probe(connector.kind, config, connector_secret(connector), timeout=timeout)
    )
    if state.state != "connected":
        return ProbeResult(False, f"Could not connect: {state.detail}")
    joined = f"; joined {', '.join(state.joined)}" if state.joined else ""
    return ProbeResult(True, f"Connected{joined}.")


def connectors_lease(*, holder: str) -> list[Connector]:
    """The enabled bridged connectors `holder` holds from now for `BRIDGE_LEASE_SECONDS`:
    those it held, and those whose holder stopped beating (or that nobody held).

    A conditional update per row, so two bridges asking at once never both get one."""
    now = timezone.now()
    live = Connector.objects.filter(is_enabled=True, kind__in=bridged_kinds())
    live.filter(
        Q(lease_holder=holder) | Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    ).update(
        lease_holder=holder, lease_until=now + timedelta(seconds=settings.BRIDGE_LEASE_SECONDS)
    )
    return list(live.filter(lease_holder=holder).select_related("bot").order_by("id"))


def connectors_release(*, holder: str, leased_until: datetime | None = None) -> None:
    """The holder's socket closed: another bridge may take its connectors now.

    `leased_until`: the latest lease that socket took. A bridge that reconnected at once
    renews under the same name from its new socket before the old one's close is handled;
    what the new socket renewed (a later lease) is not released."""
    held = Connector.objects.filter(lease_holder=holder)
    if leased_until is not None:
        held = held.filter(lease_until__lte=leased_until)
    held.update(lease_holder="", lease_until=None, status=Connector.Status.OFFLINE)


def connector_status_record(
    *,
    holder: str,
    connector_id: int,
    status: str,
    detail: str = "",
    joined: Sequence[str] = (),
    lag_ms: int | None = None,
    cursor: str | None = None,
) -> bool:
    """What the holder says of its connection; ignored (False) from a bridge that no
    longer holds the connector. An empty or missing cursor leaves the stored one."""
    if status not in Connector.Status.values:
        status = Connector.Status.FAILING
    fields: dict[str, Any] = {
        "status": status,
        "status_detail": detail[:2000],
        "joined": list(joined)[:200],
        "lag_ms": lag_ms,
    }
    if cursor and len(cursor) <= CURSOR_MAX_CHARS:
        fields["cursor"] = cursor
    return bool(Connector.objects.filter(pk=connector_id, lease_holder=holder).update(**fields))


def connector_seen_in(connector_id: int) -> None:
    """A message came in from the connector's network: noted at most every few seconds."""
    now = timezone.now()
    Connector.objects.filter(pk=connector_id).filter(
        Q(last_in_at__isnull=True) | Q(last_in_at__lt=now - LAST_IN_RESOLUTION)
    ).update(last_in_at=now)


def connector_room_external_id(connector_id: int, target: str) -> str:
    """A room's id among all of a bot's rooms: its connector's, then the network's name for
    it (a channel, a nick), so two servers' #help are two rooms."""
    return f"{connector_id}/{target}"


def connector_room_open(*, connector: Connector, target: str, is_direct: bool) -> Room:
    """The room of a channel or a private conversation, created on first contact."""
    room, _ = Room.objects.get_or_create(
        bot_id=connector.bot_id,
        connector=connector.kind,
        external_id=connector_room_external_id(connector.pk, target),
        defaults={"is_direct": is_direct, "title": target, "via": connector},
    )
    return room


def participant_trust_raise(*, participant: Participant, level: int) -> None:
    """A network role (an IRC operator, ...) gives at least `level`; what staff set higher
    stays, and nothing is lowered when the role goes."""
    if level > participant.trust_level:
        Participant.objects.filter(pk=participant.pk, trust_level__lt=level).update(
            trust_level=level
        )
        participant.trust_level = level


def relays_pending(*, connector_ids: Iterable[int], limit: int = 500) -> list[Message]:
    """The bot's messages in the connectors' rooms not yet relayed onto their networks,
    oldest first, from within `BRIDGE_RELAY_HORIZON_SECONDS`."""
    since = timezone.now() - timedelta(seconds=settings.BRIDGE_RELAY_HORIZON_SECONDS)
    return list(
        Message.objects.filter(
            room__via_id__in=list(connector_ids),
            sender_kind=Message.SenderKind.BOT,
            relayed_at__isnull=True,
            created_at__gte=since,
        )
        .select_related("room")
        .order_by("id")[:limit]
    )


def relays_done(*, message_ids: Sequence[int], connector_ids: Iterable[int]) -> int:
    """The bridge sent these onto their networks: marked, so no catch-up sends them again.
    Only messages of the connectors the bridge holds; returns how many were marked."""
    now = timezone.now()
    with transaction.atomic():
        marked = Message.objects.filter(
            pk__in=list(message_ids),
            room__via_id__in=list(connector_ids),
            relayed_at__isnull=True,
        ).update(relayed_at=now)
        if marked:
            Connector.objects.filter(
                pk__in=Room.objects.filter(messages__pk__in=list(message_ids)).values("via_id")
            ).update(last_out_at=now)
    return marked
