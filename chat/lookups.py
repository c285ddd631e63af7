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
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
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


class _InstanceBuilder(Generic[M]):
    """Turns a model's columns of a raw row into an instance as the ORM would, through each
    field's database converters; the converters are looked up once per statement, not per
    row (per field and row, that lookup cost more than the query itself)."""

    def __init__(self, model: type[M], alias: str, db: BaseDatabaseWrapper) -> None:
        self.model, self.db = model, db
        fields = model._meta.concrete_fields
        self.attnames = [field.attname for field in fields]
        self.width = len(fields)
        self.converters: list[tuple[int, Any, list[Any]]] = []
        for position, field in enumerate(fields):
            column = field.get_col(alias)
            converters = db.ops.get_db_converters(column) + field.get_db_converters(db)
            if converters:
                self.converters.append((position, column, converters))

    def __call__(self, values: list[Any]) -> M:
        for position, column, converters in self.converters:
            value = values[position]
            for converter in converters:
                value = converter(value, column, self.db)
            values[position] = value
        return self.model.from_db(self.db.alias, self.attnames, values)


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
    """`conversation_row_get` for many messages in one statement: the keys are a `VALUES`
    list joined to the tables through their unique indexes. Rows come in the keys' order."""
    if not keys:
        return []
    # The wrapper itself: each `connection.x` through Django's proxy costs a lookup.
    connection = connections[DEFAULT_DB_ALIAS]
    table = {
        model: connection.ops.quote_name(model._meta.db_table)
        for model in (Bot, Room, Participant, Message, ActionRun, PendingAction)
    }
    client_id_field = Message._meta.get_field("client_id")
    # Typed once, so a list whose client ids are all NULL still compares with the column.
    client_id_type = client_id_field.db_type(connection)
    wanted, params = [], []
    for index, key in enumerate(keys):
        # `index` is this loop's own integer; everything from the message is a parameter.
        wanted.append(f"({index}, %s, %s, %s, %s, CAST(%s AS {client_id_type}))")
        params += [
            key.bot_slug,
            key.connector,
            key.room_external_id,
            key.participant_external_id,
            client_id_field.get_db_prep_value(key.client_id, connection),
        ]
    sql = f"""
        WITH wanted (n, bot_slug, connector, room_external_id, participant_external_id,
                     client_id) AS (VALUES {", ".join(wanted)})
        SELECT w.n, {_columns(Room, "r")}, {_columns(Bot, "b")}, {_columns(Participant, "p")},
            EXISTS (SELECT 1 FROM {table[ActionRun]} run
                    WHERE run.room_id = r.id AND run.status IN (%s, %s)) AS has_backlog,
            (SELECT message.id FROM {table[Message]} message
             WHERE message.room_id = r.id AND message.client_id = w.client_id
             LIMIT 1) AS duplicate_id,
            EXISTS (SELECT 1 FROM {table[PendingAction]} pending
                    WHERE pending.room_id = r.id AND pending.participant_id = p.id
                    AND pending.expires_at > %s) AS has_pending
        FROM wanted w
        JOIN {table[Bot]} b ON b.slug = w.bot_slug
        JOIN {table[Room]} r
            ON r.bot_id = b.id AND r.connector = w.connector
            AND r.external_id = w.room_external_id
        LEFT JOIN {table[Participant]} p
            ON p.bot_id = b.id AND p.connector = w.connector
            AND p.external_id = w.participant_external_id
    """  # noqa: S608 (identifiers come from model metadata; every value is a parameter)
    params += [*ActionRun.ACTIVE, connection.ops.adapt_datetimefield_value(timezone.now())]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    build = _ConversationRowBuilder(connection)
    found = {row[0]: build(list(row[1:])) for row in rows}
    return [found.get(index) for index in range(len(keys))]


class _ConversationRowBuilder:
    def __init__(self, db: BaseDatabaseWrapper) -> None:
        self.room = _InstanceBuilder(Room, "r", db)
        self.bot = _InstanceBuilder(Bot, "b", db)
        self.participant = _InstanceBuilder(Participant, "p", db)

    def __call__(self, row: list[Any]) -> ConversationRow:
        bot_start = self.room.width
        participant_start = bot_start + self.bot.width
        flags_start = participant_start + self.participant.width
        room = self.room(row[:bot_start])
        bot = self.bot(row[bot_start:participant_start])
        room.bot = bot
        participant = None
        if row[participant_start] is not None:
            participant = self.participant(row[participant_start:flags_start])
            participant.bot = bot
        has_backlog, duplicate_id, has_pending = row[flags_start:]
        return ConversationRow(
            bot=bot,
            room=room,
            participant=participant,
            has_backlog=bool(has_backlog),
            has_pending=bool(has_pending),
            duplicate_id=duplicate_id,
        )
