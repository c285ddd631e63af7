from collections import Counter

import pytest
from django.core.exceptions import ValidationError

from conversations.engine.messages import MiddlewareSnapshot, ParticipantInfo
from conversations.engine.pipeline import message_process
from conversations.middleware.registry import middleware_types
from conversations.tests.engine import snapshots


class CountersInMemory:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def hit(self, key: str, window_seconds: int) -> int:
        self.counts[key] += 1
        return self.counts[key]


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
    assert counters.counts == {f"usage:{bot.id}:{snapshots.VISITOR.id}": 2}


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
