"""JSON from outside, read with a nesting limit.

Python's decoder recurses once per level, so a body of ten thousand `[` raises
`RecursionError` (a crash, not a parse error). Every JSON that arrives from outside, a chat
frame or an API body, is checked against `JSON_MAX_DEPTH` before it is decoded.
"""

import json
import re
from typing import Any

from django.conf import settings

# A string runs to its closing quote, or to the end of the text when it has none: a match
# that could fail would be tried again from every later quote (quadratic in the frame).
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class JsonTooDeep(ValueError):
    """The JSON nests arrays and objects deeper than the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels (JSON_MAX_DEPTH).")
        self.limit = limit


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Does `text` open more than `limit` arrays or objects inside one another? Brackets
    inside strings do not count."""
    if text.count("[") + text.count("{") <= limit:  # the common case, at C speed
        return False
    depth = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub('""', text)):
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def json_loads_limited(text: str, *, max_depth: int | None = None) -> Any:
    """`json.loads`, refusing nesting past `max_depth` (default `JSON_MAX_DEPTH`) with
    `JsonTooDeep` before decoding; invalid JSON raises `ValueError` as `json.loads` does."""
    limit = settings.JSON_MAX_DEPTH if max_depth is None else max_depth
    if json_depth_exceeds(text, limit):
        raise JsonTooDeep(limit)
    return json.loads(text)
