import json

import pytest

from botsite.json_limits import JsonTooDeep, json_depth_exceeds, json_loads_limited


def test_brackets_inside_strings_do_not_count():
    assert not json_depth_exceeds('{"a": "[[[[[[[[", "b": ["]]]"]}', 3)
    assert json_depth_exceeds('[[[["x"]]]]', 3)


def test_escaped_quotes_do_not_end_a_string():
    assert not json_depth_exceeds(r'["\"[[[[[[\""]', 3)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("tail", ["", "\\"])
def test_a_string_that_never_closes_is_read_once_not_again_from_every_quote(tail):
    # Each escaped quote used to start a new failing match that ran to the end: a 64 KiB
    # frame of them took about 10^9 steps on the server's event loop.
    text = '"' + '\\"' * 32_000 + "[" * 65 + tail

    assert not json_depth_exceeds(text, 64)  # all of it is inside the string
    with pytest.raises(json.JSONDecodeError, match="Unterminated string"):
        json_loads_limited(text, max_depth=64)


def test_nesting_past_the_limit_is_refused_before_decoding():
    with pytest.raises(JsonTooDeep, match="deeper than 64"):
        json_loads_limited("[" * 10_000 + "]" * 10_000, max_depth=64)
