"""Binding the words a user typed to an action type's typed `Args`."""

import dataclasses
import shlex
import typing
from collections.abc import Mapping
from typing import Any

TRUE_WORDS = {"yes", "true", "on", "1"}
FALSE_WORDS = {"no", "false", "off", "0"}


class ArgumentError(ValueError):
    """The text does not fit the action's arguments; the message says how to fix it."""


def _scalar_type(annotation: Any) -> type:
    """`int | None` → int; plain types pass through."""
    options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    return options[0] if options else annotation


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
    Returns JSON-safe values; raises `ArgumentError` on missing, extra or mistyped words.
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
        values[field.name] = _convert(field.name, raw, hints[field.name])
    if words:
        raise ArgumentError(f"Too many words: {' '.join(words)!r}.")
    try:
        args_cls(**values)
    except TypeError:
        missing = [
            f.name
            for f in open_fields
            if f.name not in values
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        raise ArgumentError(f"Missing {', '.join(missing)}.") from None
    return values
