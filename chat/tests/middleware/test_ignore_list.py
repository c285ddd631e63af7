from conversations.middleware.registry import middleware_stage
from engine.pipeline import message_process
from engine.snapshots import MiddlewareSnapshot
from engine.tests import snapshots


def process(participant):
    return message_process(
        snapshots.bot(middleware=(MiddlewareSnapshot(kind="ignore_list", config={}),)),
        snapshots.GROUP_ROOM,
        participant,
        "!repeat 1 hello",
        args_type_for=snapshots.args_type_for,
        middleware_stage=middleware_stage,
    )


def test_the_ignore_list_drops_what_ignored_participants_say_and_passes_the_rest():
    dropped = process(snapshots.IGNORED)
    passed = process(snapshots.VISITOR)

    assert dropped.is_dropped
    assert dropped.trace == [{"stage": "middleware", "kind": "ignore_list", "result": "dropped"}]
    assert not passed.is_dropped
    assert [call.action.name for call in passed.calls] == ["repeat"]
