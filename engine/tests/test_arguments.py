from dataclasses import dataclass

import pytest

from engine.arguments import (
    ArgumentError,
    DictatedText,
    argument_convert,
    arguments_bind,
    arguments_usage,
)


@dataclass(frozen=True)
class SearchArgs:
    limit: int
    exact: bool = False
    query: str | None = None


def test_words_fill_fields_in_order_with_their_types():
    assert arguments_bind(SearchArgs, {}, "3 yes golang news") == {
        "limit": 3,
        "exact": True,
        "query": "golang news",
    }


def test_fixed_values_are_kept_and_words_fill_the_rest():
    assert arguments_bind(SearchArgs, {"limit": 1}, "no") == {"limit": 1, "exact": False}


def test_quoted_words_stay_together():
    assert arguments_bind(SearchArgs, {}, '2 no "go lang"')["query"] == "go lang"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("three", "limit must be a whole number, not 'three'."),
        ("3 maybe", "exact must be yes or no, not 'maybe'."),
        ("", "Missing limit."),
    ],
)
def test_text_that_does_not_fit_gets_a_clear_error(text, message):
    with pytest.raises(ArgumentError, match=message):
        arguments_bind(SearchArgs, {}, text)


def test_extra_words_are_refused_when_no_text_field_takes_them():
    @dataclass(frozen=True)
    class CountArgs:
        count: int

    with pytest.raises(ArgumentError, match="Too many words: '4'"):
        arguments_bind(CountArgs, {}, "3 4")


def test_usage_marks_required_and_optional_arguments():
    assert arguments_usage(SearchArgs) == "<limit> [exact] [query]"


@dataclass(frozen=True)
class EveryTypeArgs:
    count: int
    ratio: float
    exact: bool
    name: str


@pytest.mark.parametrize("end", [".", "!", "?", "...", "?!", " .", ",", ";", "…"])
def test_punctuation_at_the_end_of_a_command_is_no_part_of_any_argument(end):
    assert arguments_bind(EveryTypeArgs, {}, f"3 0.5 yes golang{end}") == {
        "count": 3,
        "ratio": 0.5,
        "exact": True,
        "name": "golang",
    }
    assert arguments_bind(EveryTypeArgs, {"name": "x"}, f"3 0.5 yes{end}")["exact"] is True
    assert arguments_bind(EveryTypeArgs, {"name": "x", "exact": False}, f"3 0.5{end}")[
        "ratio"
    ] == pytest.approx(0.5)
    assert arguments_bind(SearchArgs, {}, f"3{end}") == {"limit": 3}


@dataclass(frozen=True)
class NoteArgs:
    key: str
    value: DictatedText


@dataclass(frozen=True)
class CommentArgs:
    comment: DictatedText | None = None


def test_dictated_text_keeps_its_punctuation():
    assert arguments_bind(NoteArgs, {}, "greeting. Hello there!") == {
        "key": "greeting",
        "value": "Hello there!",
    }
    assert arguments_bind(NoteArgs, {"key": "k"}, "a. b?")["value"] == "a. b?"
    assert argument_convert(NoteArgs, "value", "Buy milk!") == "Buy milk!"
    assert argument_convert(CommentArgs, "comment", "Fine.") == "Fine."
    assert arguments_bind(CommentArgs, {}, "Fine.") == {"comment": "Fine."}


@pytest.mark.parametrize(
    ("name", "answer", "value"),
    [
        ("count", "three.", 3),
        ("ratio", "2.5!", 2.5),
        ("exact", "yes!", True),
        ("name", "golang.", "golang"),
    ],
)
def test_an_answer_to_a_question_loses_the_sentences_punctuation(name, answer, value):
    assert argument_convert(EveryTypeArgs, name, answer) == value


def test_an_answer_of_punctuation_alone_is_asked_again():
    with pytest.raises(ArgumentError, match=r"I need a name\."):
        argument_convert(EveryTypeArgs, "name", "?!")
