"""Templates and HTML: the one door replies go through before they are stored.

The placeholder language is deliberately tiny: `{name}` inserts a plain value (text,
number, a list joined with commas), `{{` and `}}` are literal braces. There is no
attribute access, indexing, filter or code, so a template cannot reach Python objects.
Values inserted into HTML are escaped, and the HTML is sanitised with nh3 (an allow-list
of tags and attributes; no scripts, event handlers or javascript: links).
"""

import html
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import nh3

from engine.messages import ParticipantInfo, Response, RoomInfo
from engine.snapshots import BotSnapshot, TemplateSnapshot

PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
ALLOWED_TAGS = {
    "a", "b", "blockquote", "br", "code", "em", "i", "li", "ol", "p", "pre", "s",
    "strong", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


class TemplateError(ValueError):
    """The template text is not valid; the message says where, for the admin form."""


def template_names(text: str) -> list[str]:
    """The placeholders a template uses; raises `TemplateError` on anything else."""
    names = []
    for match in PLACEHOLDER.finditer(text):
        piece = match.group(0)
        if piece in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            raise TemplateError(f"Unmatched {piece!r} at {match.start()}: write {piece * 2}.")
        if not NAME.match(name.strip()):
            raise TemplateError(
                f"{{{name}}} is not a placeholder: use a lower-case name like {{participant}}; "
                "attributes, indexes and code are not allowed."
            )
        names.append(name.strip())
    return names


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, Sequence):
        return ", ".join(_plain(item) for item in value)
    return ""  # anything else (objects) never reaches a reply


def template_fill(text: str, values: Mapping[str, Any], *, escape: bool = False) -> str:
    """Replace placeholders with plain values; unknown names are left visible as `{name}`."""

    def substitute(match: re.Match[str]) -> str:
        piece = match.group(0)
        if piece == "{{":
            return "{"
        if piece == "}}":
            return "}"
        name = (match.group(1) or "").strip()
        if match.group(1) is None or name not in values:
            return piece
        value = _plain(values[name])
        return html.escape(value) if escape else value

    return PLACEHOLDER.sub(substitute, text)


def html_sanitise(markup: str) -> str:
    return nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


def template_choose(
    templates: Sequence[TemplateSnapshot], key: str, mood: str, rng: random.Random
) -> TemplateSnapshot | None:
    """A random variant for the mood, else one for any mood, else None."""
    for wanted in (mood, ""):
        variants = [t for t in templates if t.key == key and t.mood == wanted]
        if variants:
            return rng.choice(variants)
    return None


def response_render(
    response: Response,
    *,
    templates: Sequence[TemplateSnapshot],
    mood: str,
    values: Mapping[str, Any],
    rng: random.Random,
) -> Response:
    """The final reply: a staff template for its key and mood if any, HTML sanitised."""
    merged = {**values, **response.values}
    chosen = template_choose(templates, response.template, mood, rng) if response.template else None
    if chosen is not None:
        text = template_fill(chosen.text, merged)
        markup = template_fill(chosen.html, merged, escape=True) if chosen.html else ""
    else:
        text, markup = response.text, response.html
    return replace(
        response, text=text, html=html_sanitise(markup) if markup else "", template="", values={}
    )


#: Variety, not secrecy: which of a mood's variants a reply uses.
variant_rng = random.Random()  # noqa: S311


def responses_render(
    bot: BotSnapshot,
    room: RoomInfo,
    participant: ParticipantInfo | None,
    responses: Sequence[Response],
    *,
    rng: random.Random = variant_rng,
) -> list[Response]:
    """Render a batch of replies for one room: mood, participant and bot names filled in."""
    values = {
        "bot": bot.name,
        "participant": participant.name if participant else "",
        "mood": room.mood,
        "prefix": bot.command_prefix,
    }
    return [
        response_render(response, templates=bot.templates, mood=room.mood, values=values, rng=rng)
        for response in responses
    ]
