import pytest

from engine.numbers import duration_parse, number_parse, ordinal_parse


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("three", 3),
        ("Twelve", 12),
        ("twenty-one", 21),
        ("ninety nine", 99),
        ("a hundred", 100),
        ("one hundred and five", 105),
        ("a couple", 2),
        ("a dozen", 12),
        ("the five", 5),
        ("many", None),
        ("3rd", None),
        ("", None),
    ],
)
def test_numbers_in_digits_and_words(text, value):
    assert number_parse(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1st", 1),
        ("6th", 6),
        ("22nd", 22),
        ("sixth", 6),
        ("Tenth", 10),
        ("twenty-first", 21),
        ("thirty second", 32),
        ("last", 1),
        ("six", None),
        ("sixthish", None),
    ],
)
def test_ordinals_in_digits_and_words(text, value):
    assert ordinal_parse(text) == value


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("20 minutes", 1200),
        ("in 5 mins", 300),
        ("an hour", 3600),
        ("an hour and a half", 5400),
        ("half an hour", 1800),
        ("two days", 172800),
        ("1h30m", 5400),
        ("2 hours 15 minutes", 8100),
        ("a week", 604800),
        ("soon", None),
        ("ten", None),
        ("many minutes", None),
    ],
)
def test_durations_in_seconds(text, seconds):
    assert duration_parse(text) == seconds
