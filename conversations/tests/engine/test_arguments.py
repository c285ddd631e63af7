from dataclasses import dataclass

import pytest

from conversations.engine.arguments import ArgumentError, arguments_bind, arguments_usage


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
