"""Binding the words a user typed to an action type's typed `Args`."""

import dataclasses
import functools
import re
import shlex
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from engine.numbers import duration_parse, number_parse, ordinal_parse

TRUE_WORDS = {"yes", "true", "on", "1"}
FALSE_WORDS = {"no", "false", "off", "0"}
#: What ends a sentence rather than its last word: "… about golang." is about golang.
SENTENCE_END = re.compile(r"[\s.,;:!?…\u3002\uff01\uff1f]+$")
DICTATED = "dictated"
#: An argument whose words the participant dictates to a command (a note, a custom reply):
#: kept as typed, punctuation and all (`!set-command hi Hello there!`). Every other
#: argument is a word, a number or a name, and never ends in the sentence's punctuation.
DictatedText = Annotated[str, DICTATED]


def sentence_end_strip(text: str) -> str:
    """The text without the punctuation and spaces that end it."""
    return SENTENCE_END.sub("", text)


@functools.cache
def _dictated_fields(args_cls: type) -> frozenset[str]:
    """The fields typed `DictatedText`, alone or in a union (`DictatedText | None`)."""
    hints = typing.get_type_hints(args_cls, include_extras=True)
    return frozenset(
        name
        for name, annotation in hints.items()
        if any(
            DICTATED in getattr(candidate, "__metadata__", ())
            for candidate in (annotation, *typing.get_args(annotation))
        )
    )


def _word_clean(args_cls: type, name: str, raw: str) -> str:
    """A participant's words for one argument, without the sentence's end unless dictated."""
    return raw if name in _dictated_fields(args_cls) else sentence_end_strip(raw)


class ArgumentError(ValueError):
    """The text does not fit the action's arguments; the message says how to fix it."""


class MissingArguments(ArgumentError):
    """Everything given fits, but required arguments are missing: the bot may ask for them."""

    def __init__(self, values: dict[str, Any], missing: list[str]) -> None:
        super().__init__(f"Missing {', '.join(missing)}.")
        self.values = values
        self.missing = missing


def arguments_missing(args_cls: type, values: Mapping[str, Any]) -> list[str]:
    """The required fields of `args_cls` that `values` does not fill, in field order."""
    return [
        field.name
        for field in dataclasses.fields(args_cls)
        if field.name not in values
        and field.default is dataclasses.MISSING
        and field.default_factory is dataclasses.MISSING
    ]


def arguments_to_ask(
    args_cls: type, values: Mapping[str, Any], prompts: Mapping[str, str]
) -> list[str]:
    """The fields a participant left out that the bot asks for, in field order: the
    required ones, and the optional ones staff gave a prompt for."""
    required = arguments_missing(args_cls, values)
    return [
        field.name
        for field in dataclasses.fields(args_cls)
        if field.name not in values and (field.name in required or field.name in prompts)
    ]


def argument_convert(args_cls: type, name: str, raw: str) -> Any:
    """One answer for one field, converted by the field's type ("three" → 3 for an int)."""
    annotation = typing.get_type_hints(args_cls)[name]
    answer = _word_clean(args_cls, name, raw).strip()
    if not answer:
        raise ArgumentError(f"I need a {name}.")
    if _scalar_type(annotation) is int:
        return _number(answer, {})
    return _convert(name, answer, annotation)


def _scalar_type(annotation: Any) -> type:
    """`int | None` → int; plain types pass through."""
    options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    return typing.cast(type, options[0] if options else annotation)


def _convert(name: str, raw: str, annotation: Any) -> Any:
    target = _scalar_type(annotation)
    if target is bool:
        lowered = raw.lower()
        if lowered in TRUE_WORDS | FALSE_WORDS:
            return lowered in TRUE_WORDS
        raise ArgumentError(f"{name} must be yes or no, not {raw!r}.")
    if target in (int, float):
        try:
            return target(raw)
        except ValueError:
            kind = "a whole number" if target is int else "a number"
            raise ArgumentError(f"{name} must be {kind}, not {raw!r}.") from None
    return raw


def arguments_usage(args_cls: type) -> str:
    parts = []
    for field in dataclasses.fields(args_cls):
        has_default = (
            field.default is not dataclasses.MISSING
            or field.default_factory is not dataclasses.MISSING
        )
        parts.append(f"[{field.name}]" if has_default else f"<{field.name}>")
    return " ".join(parts)


def arguments_bind(args_cls: type, fixed: Mapping[str, Any], text: str) -> dict[str, Any]:
    """Fill `args_cls`'s fields: staff-fixed values first, then the user's words in order.

    The last text field takes the rest of the line, so `!say hello there` works unquoted.
    Sentence punctuation never ends a value (`!mood grumpy.` is grumpy) unless the field
    is `DictatedText`. Returns JSON-safe values; raises `ArgumentError` on missing, extra
    or mistyped words.
    """
    hints = typing.get_type_hints(args_cls)
    open_fields = [f for f in dataclasses.fields(args_cls) if f.name not in fixed]
    try:
        words = shlex.split(text) if text.strip() else []
    except ValueError:
        words = text.split()
    values: dict[str, Any] = dict(fixed)
    for index, field in enumerate(open_fields):
        if not words:
            break
        is_last = index == len(open_fields) - 1
        if is_last and _scalar_type(hints[field.name]) is str:
            raw, words = " ".join(words), []
        else:
            raw, words = words[0], words[1:]
        raw = _word_clean(args_cls, field.name, raw)
        if raw:
            values[field.name] = _convert(field.name, raw, hints[field.name])
    if any(sentence_end_strip(word) for word in words):
        raise ArgumentError(f"Too many words: {' '.join(words)!r}.")
    missing = arguments_missing(args_cls, values)
    if missing:
        raise MissingArguments(values, missing)
    return values


# --- Pattern groups ---------------------------------------------------------------------
# A pattern's `arguments` maps an argument to a fixed value, or to a spec that converts a
# named group: {"group": "nth", "as": "ordinal", "add": -1}. A group named like an argument
# fills it with the converter its type implies.


def _number(raw: str, spec: Mapping[str, Any]) -> int:
    value = number_parse(raw)
    if value is None:
        raise ArgumentError(f"{raw!r} is not a number I know.")
    return value


def _ordinal(raw: str, spec: Mapping[str, Any]) -> int:
    value = ordinal_parse(raw)
    if value is None:
        raise ArgumentError(f"{raw!r} is not a position I know (1st, second, ...).")
    return value


def _duration(raw: str, spec: Mapping[str, Any]) -> int:
    value = duration_parse(raw)
    if value is None:
        raise ArgumentError(f"{raw!r} is not a duration I know (20 minutes, an hour, ...).")
    return value


def _choice(raw: str, spec: Mapping[str, Any]) -> str:
    choices = [str(choice).lower() for choice in spec.get("choices", [])]
    if raw.lower() not in choices:
        raise ArgumentError(f"{raw!r} is not one of {', '.join(choices)}.")
    return raw.lower()


CONVERTERS: dict[str, Callable[[str, Mapping[str, Any]], Any]] = {
    "number": _number,
    "ordinal": _ordinal,
    "duration": _duration,
    "choice": _choice,
    "word": lambda raw, spec: raw.split()[0] if raw.split() else raw,
    "text": lambda raw, spec: raw.strip(),
}


def _default_converter(annotation: Any) -> str:
    target = _scalar_type(annotation)
    return "number" if target is int else "text"


def _is_spec(value: Any) -> bool:
    return isinstance(value, Mapping) and "group" in value


def arguments_from_groups(
    args_cls: type, spec: Mapping[str, Any], groups: Mapping[str, str]
) -> dict[str, Any]:
    """Fill `args_cls`'s fields from a pattern match; raises `ArgumentError` on bad values.

    A group's value never ends in sentence punctuation, dictated or not: a pattern reads a
    sentence said to the bot, and "… about golang." is about golang whatever the group.
    """
    hints = typing.get_type_hints(args_cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(args_cls):
        entry = spec.get(field.name)
        if entry is not None and not _is_spec(entry):
            values[field.name] = entry
            continue
        rule = dict(entry) if entry is not None else {"group": field.name}
        raw = sentence_end_strip(groups.get(rule["group"]) or "").strip()
        if not raw:
            continue
        target = _scalar_type(hints[field.name])
        if "as" not in rule and target in (float, bool):
            values[field.name] = _convert(field.name, raw, hints[field.name])
            continue
        value = CONVERTERS[rule.get("as", _default_converter(hints[field.name]))](raw, rule)
        if "add" in rule:
            value += rule["add"]
        values[field.name] = value
    missing = arguments_missing(args_cls, values)
    if missing:
        raise MissingArguments(values, missing)
    return values


def arguments_spec_check(args_cls: type, spec: Any, group_names: set[str] | None) -> None:
    """Check a command's or pattern's `arguments` against the action's `Args`.

    `group_names` are the pattern's named groups (None for a command). Raises
    `ArgumentError` naming the first problem.
    """
    if not isinstance(spec, Mapping):
        raise ArgumentError("Arguments must be a JSON object.")
    fields = {field.name for field in dataclasses.fields(args_cls)}
    for name, entry in spec.items():
        if name not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise ArgumentError(f"{name!r} is not an argument of this action (it has: {known}).")
        if not _is_spec(entry):
            continue
        if group_names is None:
            raise ArgumentError(f"{name!r}: only patterns take values from groups.")
        if entry["group"] not in group_names:
            raise ArgumentError(f"{name!r}: the pattern has no group {entry['group']!r}.")
        if entry.get("as", "number") not in CONVERTERS:
            raise ArgumentError(f"{name!r}: 'as' must be one of {', '.join(sorted(CONVERTERS))}.")
        if "add" in entry and not isinstance(entry["add"], int):
            raise ArgumentError(f"{name!r}: 'add' must be a whole number.")


def pattern_groups_check(args_cls: type, spec: Any, group_names: set[str]) -> None:
    """Every named group of a pattern must fill an argument: by its name, or through a spec
    in `arguments`. Raises `ArgumentError` naming the first group that fills none, and the
    action's arguments."""
    if not isinstance(spec, Mapping):
        return  # `arguments_spec_check` says why
    fields = [field.name for field in dataclasses.fields(args_cls)]
    used: set[str] = set()
    for field_name in fields:
        entry = spec.get(field_name)
        if entry is None:
            used.add(field_name)
        elif _is_spec(entry):
            used.add(entry["group"])
    for name in sorted(group_names - used):
        known = ", ".join(fields) or "none"
        detail = (
            "its argument has a fixed value in arguments"
            if name in fields
            else f"this action's arguments are: {known}"
        )
        raise ArgumentError(
            f"The group (?P<{name}>…) fills no argument ({detail}). Name the group after an "
            f'argument, map it in arguments ({{"<argument>": {{"group": "{name}"}}}}), '
            "or make it unnamed: (?:…)."
        )
