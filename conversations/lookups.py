"""The one hand-written query of the message path.

Every inbound message needs its bot, room and participant, and three facts about them:
does the room have queued calls not finished yet, is the message a resend of one stored
(`client_id`), does a question wait for the participant's answer. As ORM querysets that
was two queries whose building and compiling cost more CPU than everything else a
message does (BENCHMARKS.md); here it is one statement on SQLite and PostgreSQL alike,
whose rows become ordinary model instances through each field's own database converters.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from actions.models import ActionRun, PendingAction
from conversations.models import Bot, Message, Participant, Room

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class ConversationRow:
    bot: Bot
    room: Room
    #: None on the participant's first message in this bot.
    participant: Participant | None
    has_backlog: bool
    has_pending: bool
    duplicate_id: int | None


def _columns(model: type[Model], alias: str) -> str:
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


def _instance(model: type[M], alias: str, values: list[Any]) -> M:
    fields = model._meta.concrete_fields
    converted = []
    for field, value in zip(fields, values, strict=True):
        column = field.get_col(alias)
        for converter in connection.ops.get_db_converters(column) + field.get_db_converters(
            connection
        ):
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, [field.attname for field in fields], converted)


@dataclass(frozen=True)
class ConversationKey:
    """Where an inbound message belongs and who sent it, as the lookup needs it."""

    bot_slug: str
    connector: str
    room_external_id: str
    participant_external_id: str
    client_id: uuid.UUID | None


def conversation_row_get(
    *,
    bot_slug: str,
    connector: str,
    room_external_id: str,
    participant_external_id: str,
    client_id: uuid.UUID | None,
) -> ConversationRow | None:
    """The room of this place (with its bot) and the participant, if the room exists."""
    key = ConversationKey(bot_slug, connector, room_external_id, participant_external_id, client_id)
    [row] = conversation_rows_get([key])
    return row


def conversation_rows_get(keys: Sequence[ConversationKey]) -> list[ConversationRow | None]:
    """`conversation_row_get` for many messages in one statement (a `UNION ALL` of one
    branch per key: each branch keeps its parameters typed by the column they meet, which
    a shared `VALUES` list would not on PostgreSQL). Rows come back in the keys' order."""
    if not keys:
        return []
    table = {
        model: connection.ops.quote_name(model._meta.db_table)
        for model in (Bot, Room, Participant, Message, ActionRun, PendingAction)
    }
    client_id_field = Message._meta.get_field("client_id")
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    branches, params = [], []
    for index, key in enumerate(keys):
        # `index` is this loop's own integer; everything from the message is a parameter.
        branches.append(f"""
            SELECT {index} AS n, {_columns(Room, "r")}, {_columns(Bot, "b")},
                {_columns(Participant, "p")},
                EXISTS (SELECT 1 FROM {table[ActionRun]} run
                        WHERE run.room_id = r.id AND run.status IN (%s, %s)) AS has_backlog,
                (SELECT message.id FROM {table[Message]} message
                 WHERE message.room_id = r.id AND message.client_id = %s LIMIT 1) AS duplicate_id,
                EXISTS (SELECT 1 FROM {table[PendingAction]} pending
                        WHERE pending.room_id = r.id AND pending.participant_id = p.id
                        AND pending.expires_at > %s) AS has_pending
            FROM {table[Room]} r
            JOIN {table[Bot]} b ON b.id = r.bot_id
            LEFT JOIN {table[Participant]} p
                ON p.bot_id = b.id AND p.connector = %s AND p.external_id = %s
            WHERE b.slug = %s AND r.connector = %s AND r.external_id = %s
        """)  # noqa: S608 (identifiers come from model metadata; every value is a parameter)
        params += [
            *ActionRun.ACTIVE,
            client_id_field.get_db_prep_value(key.client_id, connection),
            now,
            key.connector,
            key.participant_external_id,
            key.bot_slug,
            key.connector,
            key.room_external_id,
        ]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(branches), params)
        found = {row[0]: _conversation_row(list(row[1:])) for row in cursor.fetchall()}
    return [found.get(index) for index in range(len(keys))]


def _conversation_row(row: list[Any]) -> ConversationRow:
    room_width = len(Room._meta.concrete_fields)
    bot_width = len(Bot._meta.concrete_fields)
    participant_width = len(Participant._meta.concrete_fields)
    room = _instance(Room, "r", row[:room_width])
    bot = _instance(Bot, "b", row[room_width : room_width + bot_width])
    room.bot = bot
    start = room_width + bot_width
    participant_values = row[start : start + participant_width]
    participant = None
    if participant_values[0] is not None:
        participant = _instance(Participant, "p", participant_values)
        participant.bot = bot
    has_backlog, duplicate_id, has_pending = row[start + participant_width :]
    return ConversationRow(
        bot=bot,
        room=room,
        participant=participant,
        has_backlog=bool(has_backlog),
        has_pending=bool(has_pending),
        duplicate_id=duplicate_id,
    )
