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


def bot_with(kind: str, **config):
    return snapshots.bot(middleware=(MiddlewareSnapshot(kind=kind, config=config),))


def send(bot, counters, participant=snapshots.VISITOR, text="!twice"):
    return message_process(
        bot,
        snapshots.GROUP_ROOM,
        participant,
        text,
        args_type_for=snapshots.args_type_for,
        counters=counters,
    )


def test_a_participant_past_the_limit_is_dropped_others_are_not():
    bot, counters = bot_with("rate_limit", per_participant=2, window_seconds=60), CountersInMemory()
    other = ParticipantInfo(id=9, name="Bob", trust_level=0)

    results = [send(bot, counters).is_dropped for _ in range(3)]

    assert results == [False, False, True]
    assert not send(bot, counters, participant=other).is_dropped


def test_a_busy_room_is_limited_as_a_whole():
    bot, counters = bot_with("rate_limit", per_room=3), CountersInMemory()
    people = [ParticipantInfo(id=n, name=f"p{n}", trust_level=0) for n in range(4)]

    assert [send(bot, counters, participant=p).is_dropped for p in people] == [
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
    [("rate_limit", {"per_participant": 0}), ("usage_cap", {}), ("retention", {"days": 0})],
)
def test_bad_configs_are_refused(kind, config):
    with pytest.raises(ValidationError):
        middleware_types.config_clean(kind, config)
