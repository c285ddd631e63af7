from dataclasses import replace

import pytest

from engine.messages import PendingCall
from engine.parse import later_split
from engine.pipeline import message_process
from engine.snapshots import CommandSnapshot, MiddlewareSnapshot, PatternSnapshot
from engine.tests import snapshots
from engine.tests.snapshots import DIRECT_ROOM, GROUP_ROOM, IGNORED, TRUSTED, VISITOR


def process(text, *, bot=None, room=GROUP_ROOM, participant=VISITOR, pending=None):
    return message_process(
        bot or snapshots.bot(),
        room,
        participant,
        text,
        args_type_for=snapshots.args_type_for,
        middleware_stage=snapshots.middleware_stage,
        pending=pending,
    )


def test_a_command_becomes_an_action_call_with_typed_arguments():
    outcome = process("!repeat 3 hello there")

    [call] = outcome.calls
    assert call.action.name == "repeat"
    assert call.arguments == {"times": 3, "text": "hello there"}
    assert call.source == "command:repeat"
    assert outcome.responses == []
    assert outcome.trace[-1] == {
        "stage": "parse",
        "parser": "command",
        "word": "repeat",
        "action": "repeat",
        "arguments": {"times": 3, "text": "hello there"},
    }


def test_command_words_are_case_insensitive_and_fixed_arguments_apply():
    [call] = process("!TWICE").calls

    assert call.arguments == {"times": 2}


def test_an_unknown_command_is_answered_with_a_hint_and_no_call():
    outcome = process("!dance")

    assert outcome.calls == []
    assert [r.text for r in outcome.responses] == ["I don't know !dance. Try !help."]


def test_a_command_above_the_participants_trust_is_politely_refused():
    refused = process("!admin 1")
    allowed = process("!admin 1", participant=TRUSTED)

    assert refused.calls == []
    assert "needs more trust" in refused.responses[0].text
    assert [call.action.name for call in allowed.calls] == ["admin"]


def test_arguments_that_do_not_fit_get_the_usage():
    outcome = process("!repeat lots")

    assert outcome.calls == []
    assert outcome.responses[0].text == (
        "times must be a whole number, not 'lots'. Usage: !repeat <times> [text]"
    )


def test_a_command_whose_action_type_is_gone_is_answered_not_crashed():
    outcome = process("!gone")

    assert outcome.calls == []
    assert "not available" in outcome.responses[0].text


def test_free_text_in_a_group_room_is_ignored_unless_the_bot_is_named():
    quiet = process("nice weather")
    named = process("Hey bot, how are you?")

    assert quiet.responses == []
    assert quiet.calls == []
    assert named.responses[0].text == "I didn't understand that. Try !help."


def test_free_text_in_a_direct_room_gets_the_bots_fallback_text():
    outcome = process("hello", bot=snapshots.bot(fallback_text="Say !help"), room=DIRECT_ROOM)

    assert [r.text for r in outcome.responses] == ["Say !help"]


def test_ignored_participants_are_dropped_by_the_ignore_list():
    outcome = process("!repeat 1", participant=IGNORED)

    assert outcome.is_dropped
    assert outcome.calls == []
    assert outcome.responses == []
    assert outcome.trace == [{"stage": "middleware", "kind": "ignore_list", "result": "dropped"}]


def test_a_middleware_may_change_the_message_before_parsing():
    bot = snapshots.bot(
        middleware=(MiddlewareSnapshot(kind="shout", config={}),),
        command_prefix="!",
    )
    outcome = process("!twice", bot=bot)

    assert outcome.trace[0] == {"stage": "middleware", "kind": "shout", "result": "changed"}
    assert [call.action.name for call in outcome.calls] == ["twice"]


def test_a_stack_stage_whose_type_is_gone_drops_rather_than_opens_the_gate():
    bot = snapshots.bot(middleware=(MiddlewareSnapshot(kind="removed", config={}),))

    outcome = process("!twice", bot=bot)

    assert outcome.is_dropped
    assert outcome.trace[0]["result"] == "unavailable"


def with_patterns(*patterns):
    return snapshots.bot(patterns=patterns)


REPEAT = PatternSnapshot(
    id=7,
    regex=r"say (?P<text>\w+) (?P<times>\w+) times",
    action=snapshots.action("repeat"),
    arguments={},
)


def test_a_pattern_answers_when_the_bot_is_named_and_the_name_is_not_part_of_the_text():
    outcome = process("Hey bot, say hi three times", bot=with_patterns(REPEAT))

    [call] = outcome.calls
    assert call.arguments == {"times": 3, "text": "hi"}
    assert call.source == "pattern:7"
    assert outcome.trace[-1]["groups"] == {"text": "hi", "times": "three"}


def test_patterns_are_not_tried_in_a_group_room_unless_the_bot_is_named():
    outcome = process("say hi three times", bot=with_patterns(REPEAT))

    assert outcome.calls == []
    assert outcome.trace[-1] == {"stage": "parse", "parser": "none", "reason": "not addressed"}


def test_in_a_direct_room_patterns_need_no_name():
    outcome = process("say hi 2 times", bot=with_patterns(REPEAT), room=DIRECT_ROOM)

    assert [call.arguments for call in outcome.calls] == [{"times": 2, "text": "hi"}]


def test_a_match_whose_words_do_not_convert_gets_a_reply_instead_of_a_call():
    outcome = process("hey bot say hi many times", bot=with_patterns(REPEAT))

    assert outcome.calls == []
    assert outcome.responses[0].text == "Sorry, I didn't get that: 'many' is not a number I know."


def test_a_pattern_above_the_participants_trust_is_refused():
    guarded = PatternSnapshot(
        id=8, regex="shut down", action=snapshots.action("admin", min_trust=50), arguments={}
    )

    outcome = process("hey bot, shut down", bot=with_patterns(guarded))

    assert outcome.calls == []
    assert "more trust" in outcome.responses[0].text


ASKING = replace(snapshots.action("repeat"), prompts={"times": "How many times?"})


def with_prompts():
    return snapshots.bot(commands={"repeat": CommandSnapshot(word="repeat", action=ASKING)})


def test_a_missing_argument_with_a_prompt_is_asked_for_instead_of_refused():
    outcome = process("!repeat", bot=with_prompts())

    assert outcome.calls == []
    assert [r.text for r in outcome.responses] == ["How many times?"]
    assert outcome.pending == PendingCall(
        action=ASKING, arguments={}, missing="times", source="command:repeat"
    )


def test_the_answer_fills_the_argument_and_the_call_runs():
    pending = process("!repeat", bot=with_prompts()).pending

    outcome = process("three", bot=with_prompts(), pending=pending)

    assert outcome.is_pending_done
    assert outcome.pending is None
    [call] = outcome.calls
    assert (call.arguments, call.source) == ({"times": 3}, "command:repeat")


def test_an_invalid_answer_gets_the_question_again_and_keeps_waiting():
    pending = process("!repeat", bot=with_prompts()).pending

    outcome = process("lots", bot=with_prompts(), pending=pending)

    assert outcome.calls == []
    assert not outcome.is_pending_done
    assert outcome.responses[0].text == (
        "'lots' is not a number I know. How many times? (or say cancel)"
    )


def test_cancel_drops_the_waiting_call():
    pending = process("!repeat", bot=with_prompts()).pending

    outcome = process("Cancel!", bot=with_prompts(), pending=pending)

    assert outcome.is_pending_done
    assert outcome.calls == []
    assert outcome.responses[0].text == "OK, cancelled."


def test_a_command_runs_while_a_question_is_open_and_ends_the_question_with_a_note():
    bot = snapshots.bot(commands={**snapshots.bot().commands, **with_prompts().commands})
    pending = process("!repeat", bot=bot).pending

    outcome = process("!twice", bot=bot, pending=pending)

    assert [(call.action.name, call.arguments) for call in outcome.calls] == [
        ("twice", {"times": 2})
    ]
    assert outcome.is_pending_done
    assert outcome.pending is None
    assert [(r.text, r.template) for r in outcome.responses] == [
        ("OK, I won't wait for your answer to “How many times?” any more.", "pending_dropped")
    ]


def test_a_command_that_asks_its_own_question_replaces_the_open_one():
    pending = process("!repeat", bot=with_prompts()).pending

    outcome = process("!repeat", bot=with_prompts(), pending=pending)

    assert outcome.is_pending_done
    assert outcome.pending == pending
    assert [r.text for r in outcome.responses] == [
        "OK, I won't wait for your answer to “How many times?” any more.",
        "How many times?",
    ]


def test_an_unknown_command_is_still_a_command_while_a_question_is_open():
    pending = process("!repeat", bot=with_prompts()).pending

    outcome = process("!dance", bot=with_prompts(), pending=pending)

    assert outcome.is_pending_done
    assert [r.template for r in outcome.responses] == ["pending_dropped", "unknown_command"]


def asking(**prompts):
    action = replace(snapshots.action("repeat"), prompts=prompts)
    return snapshots.bot(
        commands={"repeat": CommandSnapshot(word="repeat", action=action)},
        patterns=(replace(REPEAT, regex=r"repeat (?P<times>\w+) times", action=action),),
    )


def answer(bot, *texts):
    """Send the texts one after another, each answering the question the one before asked."""
    pending, outcome = None, None
    for text in texts:
        outcome = process(text, bot=bot, pending=pending)
        if outcome.is_pending_done or outcome.pending is not None:
            pending = outcome.pending
    return outcome


def test_an_optional_argument_with_a_prompt_is_asked_for_when_left_out():
    bot = asking(text="What should I say?")

    asked = process("!repeat 3", bot=bot)

    assert asked.calls == []
    assert [r.text for r in asked.responses] == ["What should I say?"]
    assert asked.pending is not None
    assert (asked.pending.missing, asked.pending.arguments) == ("text", {"times": 3})
    [call] = answer(bot, "!repeat 3", "hello there").calls
    assert call.arguments == {"times": 3, "text": "hello there"}


def test_an_optional_argument_given_or_without_a_prompt_is_not_asked_for():
    [given] = process("!repeat 3 yo", bot=asking(text="What should I say?")).calls
    [unprompted] = process("!repeat 3", bot=asking(times="How many?")).calls

    assert given.arguments == {"times": 3, "text": "yo"}
    assert unprompted.arguments == {"times": 3}


def test_a_pattern_that_leaves_out_a_prompted_optional_argument_asks_for_it():
    bot = asking(text="What should I say?")

    asked = process("hey bot, repeat 2 times", bot=bot)

    assert [r.text for r in asked.responses] == ["What should I say?"]
    [call] = answer(bot, "hey bot, repeat 2 times", "bye").calls
    assert (call.arguments, call.source) == ({"times": 2, "text": "bye"}, "pattern:7")


def test_prompted_arguments_are_asked_in_order_required_or_not():
    bot = asking(times="How many times?", text="What should I say?")

    assert [r.text for r in answer(bot, "!repeat").responses] == ["How many times?"]
    assert [r.text for r in answer(bot, "!repeat", "two").responses] == ["What should I say?"]
    [call] = answer(bot, "!repeat", "two", "hi!").calls
    assert call.arguments == {"times": 2, "text": "hi"}


def test_a_required_argument_without_a_prompt_is_refused_even_if_an_optional_one_has_one():
    outcome = process("!repeat", bot=asking(text="What should I say?"))

    assert outcome.pending is None
    assert outcome.responses[0].template == "bad_arguments"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tell me the weather in 20 minutes", ("tell me the weather", 1200)),
        ("stretch, in an hour and a half!", ("stretch", 5400)),
        ("the news in Oslo", ("the news in Oslo", 0)),
        ("report in 2 years", ("report in 2 years", 0)),
        ("nothing later", ("nothing later", 0)),
    ],
)
def test_a_trailing_in_duration_schedules_for_later(text, expected):
    assert later_split(text) == expected


def test_a_call_for_later_is_acknowledged_now_and_carries_its_delay():
    outcome = process("!repeat 2 in 20 minutes")

    [call] = outcome.calls
    assert (call.arguments, call.delay_seconds) == ({"times": 2}, 1200)
    assert [r.text for r in outcome.responses] == ["OK, in 20 minutes."]
    assert outcome.trace[-1] == {
        "stage": "schedule",
        "action": "repeat",
        "delay_seconds": 1200,
    }


def test_patterns_see_the_text_without_the_delay():
    outcome = process("hey bot say hi 3 times in 5 minutes", bot=with_patterns(REPEAT))

    [call] = outcome.calls
    assert (call.arguments, call.delay_seconds) == ({"times": 3, "text": "hi"}, 300)


def test_punctuation_ending_a_message_is_no_part_of_the_command_or_its_arguments():
    [call] = process("!repeat 3!").calls
    [fixed] = process("!twice.").calls
    [named] = process("Hey bot, say hi three times.", bot=with_patterns(REPEAT)).calls

    assert call.arguments == {"times": 3}
    assert fixed.arguments == {"times": 2}
    assert named.arguments == {"times": 3, "text": "hi"}


def without_help(**commands):
    others = {w: c for w, c in snapshots.bot().commands.items() if c.action.kind != "help"}
    return snapshots.bot(commands={**others, **commands})


def test_a_bot_without_help_never_points_to_it():
    bot = without_help()

    assert [r.text for r in process("!dance", bot=bot).responses] == ["I don't know !dance."]
    assert [r.text for r in process("hey bot, hi", bot=bot).responses] == [
        "I didn't understand that."
    ]
    assert process("hey bot, hi", bot=bot).responses[0].values == {"help_command": ""}


def test_the_hint_names_the_help_command_the_bot_has_and_the_participant_may_use():
    renamed = without_help(
        commands=CommandSnapshot(word="commands", action=snapshots.action("h", kind="help"))
    )
    guarded = without_help(
        help=CommandSnapshot(word="help", action=snapshots.action("h", kind="help", min_trust=50))
    )

    assert process("!dance", bot=renamed).responses[0].text == "I don't know !dance. Try !commands."
    assert process("!dance", bot=guarded).responses[0].text == "I don't know !dance."
    assert process("!dance", bot=guarded, participant=TRUSTED).responses[0].values == {
        "command": "!dance",
        "help_command": "!help",
    }
