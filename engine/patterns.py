"""Staff regexes over user text: the one door they run through.

Patterns run against every message, so they are compiled with RE2 (linear-time matching,
no backreferences or lookaround), case-insensitively, with a memory cap, and only see the
first `MAX_INPUT_CHARS` characters of a message.
"""

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import re2

from engine.snapshots import PatternSnapshot

MAX_PATTERN_CHARS = 1000
MAX_INPUT_CHARS = 1000
MAX_PROGRAM_BYTES = 1 << 20  # RE2 refuses patterns whose compiled program needs more


class PatternError(ValueError):
    """The pattern cannot be run safely; the message says why, for the admin form."""


@dataclass(frozen=True)
class PatternMatch:
    pattern: PatternSnapshot
    groups: Mapping[str, str]
    start: int
    end: int


def _options() -> Any:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = MAX_PROGRAM_BYTES
    return options


@functools.lru_cache(maxsize=4096)
def pattern_compile(regex: str) -> Any:
    """Compile (and cache) a staff pattern; raises `PatternError` if RE2 cannot run it."""
    if len(regex) > MAX_PATTERN_CHARS:
        raise PatternError(f"Patterns are limited to {MAX_PATTERN_CHARS} characters.")
    try:
        return re2.compile(regex, _options())
    except re2.error as error:
        detail = error.args[0] if error.args else error
        if isinstance(detail, bytes):
            detail = detail.decode(errors="replace")
        raise PatternError(f"This pattern cannot be compiled safely (RE2): {detail}") from None


def patterns_match(patterns: Sequence[PatternSnapshot], text: str) -> list[PatternMatch]:
    """Every non-overlapping match in the text, in reading order.

    Where two patterns match the same words, the higher priority (then the earlier
    pattern) wins, so "the weather and the time" can yield two calls but one phrase never
    yields two.
    """
    subject = text[:MAX_INPUT_CHARS]
    found: list[tuple[int, int, int, PatternMatch]] = []
    for rank, pattern in enumerate(patterns):
        try:
            compiled = pattern_compile(pattern.regex)
        except PatternError:
            continue  # saved before validation existed; the admin shows the error on edit
        for match in compiled.finditer(subject):
            if match.end() == match.start():
                continue
            groups = {name: value for name, value in match.groupdict().items() if value}
            found.append(
                (
                    -pattern.priority,
                    rank,
                    match.start(),
                    PatternMatch(pattern, groups, match.start(), match.end()),
                )
            )
    chosen: list[PatternMatch] = []
    for *_, candidate in sorted(found, key=lambda item: item[:3]):
        if all(candidate.end <= kept.start or candidate.start >= kept.end for kept in chosen):
            chosen.append(candidate)
    return sorted(chosen, key=lambda match: match.start)
