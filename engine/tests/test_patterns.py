from dataclasses import dataclass

import pytest

from engine.arguments import (
    ArgumentError,
    DictatedText,
    arguments_from_groups,
    arguments_spec_check,
    pattern_groups_check,
)
from engine.patterns import MAX_INPUT_CHARS, PatternError, pattern_compile, patterns_match
from engine.snapshots import PatternSnapshot
from engine.tests import snapshots


def pattern(regex: str, *, id: int = 1, priority: int = 0, arguments=None) -> PatternSnapshot:
    return PatternSnapshot(
        id=id,
        regex=regex,
        action=snapshots.action(f"action-{id}"),
        arguments=arguments or {},
        priority=priority,
    )


def test_one_message_may_match_several_patterns_in_reading_order():
    weather = pattern(r"the weather(?: in (?P<city>\w+))?", id=1)
    time = pattern(r"the time", id=2)

    matches = patterns_match([weather, time], "tell me the time and the weather in Oslo")

    assert [(m.pattern.id, dict(m.groups)) for m in matches] == [(2, {}), (1, {"city": "Oslo"})]


def test_matching_is_case_insensitive_and_repeats_are_found():
    matches = patterns_match([pattern(r"ping")], "PING ping")

    assert len(matches) == 2


def test_where_two_patterns_match_the_same_words_the_higher_priority_wins():
    broad = pattern(r"posts?", id=1)
    precise = pattern(r"latest posts", id=2, priority=5)

    [match] = patterns_match([broad, precise], "latest posts")

    assert match.pattern.id == 2


def test_a_catastrophic_pattern_runs_in_linear_time_and_input_is_capped():
    # Python's re backtracks for ages on 30 a's; RE2 answers at once for 900.
    assert patterns_match([pattern(r"(a+)+$")], "a" * 900 + "!") == []

    long_text = "a" * 100_000 + "!"
    assert patterns_match([pattern(r"!")], long_text) == [], "only the first characters count"
    [match] = patterns_match([pattern(r"a+$")], long_text)
    assert match.end == MAX_INPUT_CHARS


@pytest.mark.parametrize("regex", [r"(a)\1", r"x(?=y)", r"(?<=x)y", r"[", "x" * 1001])
def test_patterns_re2_cannot_run_safely_are_refused(regex):
    with pytest.raises(PatternError):
        pattern_compile(regex)


@dataclass(frozen=True)
class PostsArgs:
    limit: int = 1
    offset: int = 0
    tag: str | None = None


NTH = {"limit": 1, "offset": {"group": "nth", "as": "ordinal", "add": -1}}


@pytest.mark.parametrize(
    ("spec", "groups", "arguments"),
    [
        ({}, {"limit": "three"}, {"limit": 3}),
        ({}, {"limit": "12", "tag": "golang"}, {"limit": 12, "tag": "golang"}),
        (NTH, {"nth": "6th"}, {"limit": 1, "offset": 5}),
        (NTH, {"nth": "twenty-first", "tag": "go"}, {"limit": 1, "offset": 20, "tag": "go"}),
        ({"limit": 1}, {}, {"limit": 1}),
    ],
)
def test_groups_become_typed_arguments(spec, groups, arguments):
    assert arguments_from_groups(PostsArgs, spec, groups) == arguments


def test_a_group_that_does_not_convert_is_an_argument_error():
    with pytest.raises(ArgumentError, match="'lots' is not a number"):
        arguments_from_groups(PostsArgs, {}, {"limit": "lots"})


@dataclass(frozen=True)
class ReminderArgs:
    delay: int
    unit: str = "minutes"


def test_durations_and_choices_convert_through_their_spec():
    spec = {
        "delay": {"group": "when", "as": "duration"},
        "unit": {"group": "unit", "as": "choice", "choices": ["minutes", "hours"]},
    }

    assert arguments_from_groups(ReminderArgs, spec, {"when": "half an hour", "unit": "Hours"}) == {
        "delay": 1800,
        "unit": "hours",
    }
    with pytest.raises(ArgumentError, match="not one of minutes, hours"):
        arguments_from_groups(ReminderArgs, spec, {"when": "1 hour", "unit": "days"})


@pytest.mark.parametrize(
    ("spec", "groups", "message"),
    [
        ({"colour": 1}, {"nth"}, "'colour' is not an argument of this action"),
        ({"offset": {"group": "n"}}, {"nth"}, "the pattern has no group 'n'"),
        ({"offset": {"group": "nth", "as": "roman"}}, {"nth"}, "'as' must be one of"),
        ({"offset": {"group": "nth", "add": "1"}}, {"nth"}, "'add' must be a whole number"),
        ([], {"nth"}, "must be a JSON object"),
    ],
)
def test_argument_specs_are_checked_against_the_action_and_the_pattern(spec, groups, message):
    with pytest.raises(ArgumentError, match=message):
        arguments_spec_check(PostsArgs, spec, groups)


def test_commands_cannot_take_values_from_groups():
    with pytest.raises(ArgumentError, match="only patterns"):
        arguments_spec_check(PostsArgs, {"offset": {"group": "nth"}}, None)


@dataclass(frozen=True)
class EveryConverterArgs:
    count: int = 0
    nth: int = 0
    wait: int = 0
    unit: str = ""
    first: str = ""
    note: DictatedText = ""
    ratio: float = 0.0
    exact: bool = False


EVERY_CONVERTER = {
    "nth": {"group": "nth", "as": "ordinal"},
    "wait": {"group": "wait", "as": "duration"},
    "unit": {"group": "unit", "as": "choice", "choices": ["posts", "news"]},
    "first": {"group": "first", "as": "word"},
    "note": {"group": "note", "as": "text"},
}


@pytest.mark.parametrize("end", [".", "!", "?", "!?", "...", ",", " …"])
def test_a_groups_value_never_ends_in_the_sentences_punctuation(end):
    groups = {
        "count": f"three{end}",
        "nth": f"6th{end}",
        "wait": f"20 minutes{end}",
        "unit": f"News{end}",
        "first": f"golang{end}",
        "note": f"stretch a bit{end}",
        "ratio": f"0.5{end}",
        "exact": f"yes{end}",
    }

    assert arguments_from_groups(EveryConverterArgs, EVERY_CONVERTER, groups) == {
        "count": 3,
        "nth": 6,
        "wait": 1200,
        "unit": "news",
        "first": "golang",
        "note": "stretch a bit",
        "ratio": 0.5,
        "exact": True,
    }


def test_a_wide_group_at_the_end_of_a_sentence_gives_the_word_without_its_period():
    about = pattern(r"posts about (?P<tag>[\w#+.-]+)")

    [match] = patterns_match([about], "the latest posts about golang.")

    assert arguments_from_groups(PostsArgs, {}, match.groups) == {"tag": "golang"}


def test_a_group_of_punctuation_alone_fills_nothing():
    assert arguments_from_groups(PostsArgs, {}, {"tag": "?!"}) == {}


@pytest.mark.parametrize(
    ("spec", "groups"),
    [
        ({}, {"limit", "tag"}),
        (NTH, {"nth", "tag"}),
        ({"tag": {"group": "topic"}}, {"topic"}),
        ({}, set()),
    ],
)
def test_groups_that_fill_arguments_are_accepted(spec, groups):
    pattern_groups_check(PostsArgs, spec, groups)


def test_a_group_that_fills_no_argument_is_refused_naming_the_arguments():
    with pytest.raises(ArgumentError, match=r"\(\?P<town>…\) fills no argument") as caught:
        pattern_groups_check(PostsArgs, {}, {"town", "tag"})

    assert "this action's arguments are: limit, offset, tag" in str(caught.value)
