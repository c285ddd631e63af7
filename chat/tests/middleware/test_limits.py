from collections import Counter

import pytest
from django.core.exceptions import ValidationError

from actions.models import ResponseTemplate
from chat.messages import message_receive
from conversations.middleware.registry import middleware_stage, middleware_types
from conversations.models import BotMiddleware, Message
from conversations.tests.factories import inbound_message
from engine.messages import ParticipantInfo
from engine.pipeline import message_process
from engine.snapshots import MiddlewareSnapshot
from engine.tests import snapshots


class CountersInMemory:
    """Fixed windows on a clock the test moves (`now`), like the cache's counters."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.now = 0.0

    def hit(self, key: str, window_seconds: int) -> int:
        window_key = f"{key}@{int(self.now // window_seconds)}"
        self.counts[window_key] += 1
        return self.counts[window_key]


class BucketsInMemory:
    """Buckets that never refill during a test: exactly `capacity` messages pass."""

    def __init__(self) -> None:
        self.taken: Counter[str] = Counter()
        self.asked: list[tuple[str, int, float]] = []

    def take(self, key: str, *, capacity: int, per_second: float) -> bool:
        self.asked.append((key, capacity, per_second))
        if self.taken[key] >= capacity:
            return False
        self.taken[key] += 1
        return True


def bot_with(kind: str, **config):
    return snapshots.bot(middleware=(MiddlewareSnapshot(kind=kind, config=config),))


def send(bot, counters=None, participant=snapshots.VISITOR, text="!twice", buckets=None):
    return message_process(
        bot,
        snapshots.GROUP_ROOM,
        participant,
        text,
        args_type_for=snapshots.args_type_for,
        middleware_stage=middleware_stage,
        counters=counters,
        buckets=buckets,
    )


def test_a_participant_past_the_burst_is_dropped_others_are_not():
    bot, buckets = bot_with("rate_limit", participant_per_minute=30, burst=2), BucketsInMemory()
    other = ParticipantInfo(id=9, name="Bob", trust_level=0)

    results = [send(bot, buckets=buckets).is_dropped for _ in range(3)]

    assert results == [False, False, True]
    assert not send(bot, buckets=buckets, participant=other).is_dropped
    assert buckets.asked[0] == (f"rate:{bot.id}:p:{snapshots.VISITOR.id}", 2, 0.5)


def test_a_busy_room_is_limited_as_a_whole():
    bot, buckets = bot_with("rate_limit", room_per_minute=3), BucketsInMemory()
    people = [ParticipantInfo(id=n, name=f"p{n}", trust_level=0) for n in range(4)]

    assert [send(bot, buckets=buckets, participant=p).is_dropped for p in people] == [
        False,
        False,
        False,
        True,
    ]


def test_the_daily_cap_drops_past_its_number():
    bot, counters = bot_with("usage_cap", per_day=1), CountersInMemory()

    assert [send(bot, counters).is_dropped for _ in range(2)] == [False, True]
    assert counters.counts[f"usage:{bot.id}:{snapshots.VISITOR.id}@0"] == 2


def replies(outcome):
    return [(response.template, response.text) for response in outcome.responses]


def test_a_participant_over_the_daily_cap_is_told_once_a_day():
    bot, counters = bot_with("usage_cap", per_day=1), CountersInMemory()
    send(bot, counters)

    first, second = send(bot, counters), send(bot, counters)
    counters.now += 86_400
    next_day = [send(bot, counters) for _ in range(3)]

    assert first.is_dropped
    assert first.calls == []
    assert replies(first) == [
        (
            "usage_capped",
            "You have reached today's limit of 1 messages; I'll answer again tomorrow.",
        )
    ]
    assert first.responses[0].values == {"per_day": 1}
    assert first.trace[0] == {
        "stage": "middleware",
        "kind": "usage_cap",
        "result": "dropped",
        "replied": True,
    }
    assert second.is_dropped
    assert replies(second) == []
    assert [(o.is_dropped, len(o.responses)) for o in next_day] == [
        (False, 0),
        (True, 1),
        (True, 0),
    ]


def test_a_participant_past_the_rate_is_told_once_a_minute_whichever_limit_dropped():
    bot = bot_with("rate_limit", participant_per_minute=30, room_per_minute=60, burst=1)
    counters, buckets = CountersInMemory(), BucketsInMemory()
    other = ParticipantInfo(id=9, name="Bob", trust_level=0)
    send(bot, counters, buckets=buckets)

    dropped = [send(bot, counters, buckets=buckets) for _ in range(3)]
    bobs = send(bot, counters, buckets=buckets, participant=other)  # the room's bucket is empty
    counters.now += 60
    later = send(bot, counters, buckets=buckets)

    assert [len(outcome.responses) for outcome in dropped] == [1, 0, 0]
    assert replies(dropped[0]) == [
        (
            "rate_limited",
            "You are sending messages faster than I take them (30 a minute); "
            "I'm skipping some for a moment.",
        )
    ]
    assert dropped[0].responses[0].values == {"scope": "participant", "per_minute": 30}
    assert bobs.is_dropped
    assert bobs.responses[0].values == {"scope": "room", "per_minute": 60}
    assert later.is_dropped
    assert len(later.responses) == 1


def test_retention_marks_how_long_the_message_is_kept():
    outcome = send(bot_with("retention", days=7), CountersInMemory())

    assert outcome.retention_seconds == 7 * 86_400
    assert outcome.calls, "retention never stops a message"


@pytest.mark.parametrize(
    ("kind", "config"),
    [
        ("rate_limit", {"participant_per_minute": 0}),
        ("usage_cap", {}),
        ("retention", {"days": 0}),
    ],
)
def test_bad_configs_are_refused(kind, config):
    with pytest.raises(ValidationError):
        middleware_types.config_clean(kind, config)


@pytest.mark.django_db
def test_a_dropped_messages_notice_is_stored_once_and_worded_by_staff(demo_bot):
    BotMiddleware.objects.create(bot=demo_bot, kind="usage_cap", config={"per_day": 1})
    ResponseTemplate.objects.create(
        bot=demo_bot, key="usage_capped", text="That's {per_day} for today, {participant}."
    )

    def replies_to(text: str) -> list[str]:
        receipt = message_receive(inbound=inbound_message(text))
        return [reply.text for reply in receipt.replies]

    assert replies_to("!ping") == ["pong"]
    assert replies_to("!ping") == ["That's 1 for today, Ada."]
    assert replies_to("!ping") == []
    assert Message.objects.filter(sender_kind="participant").count() == 3
