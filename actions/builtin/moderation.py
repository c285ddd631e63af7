"""Mood, trust and ignore: what trusted participants may change from the chat."""

import re
from dataclasses import dataclass

from django import forms

from actions.base import ActionContext, ActionType, ParticipantsPort
from actions.exceptions import ActionFailed
from actions.registry import action_types
from engine.messages import ActionCall, ParticipantInfo, Response, TrustLevel
from engine.snapshots import MOOD_PATTERN

TRUST_NAMES = {level.name.lower(): level for level in TrustLevel}


@dataclass(frozen=True)
class MoodArgs:
    mood: str


@action_types.register
class MoodSetAction(ActionType):
    """Sets the bot's mood in this room (replies then use that mood's templates)."""

    key = "mood_set"
    label = "Set mood"
    Args = MoodArgs
    min_trust = TrustLevel.MEMBER
    example_config = {"moods": "cheerful, grumpy, neutral"}

    class ConfigForm(forms.Form):
        moods = forms.CharField(
            required=False, help_text="Comma-separated moods allowed; empty: any mood word."
        )

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        mood = MoodArgs(**call.arguments).mood.strip().lower()
        allowed = [m.strip() for m in (self.config.get("moods") or "").split(",") if m.strip()]
        if allowed and mood not in allowed:
            raise ActionFailed(f"I only do these moods: {', '.join(allowed)}.")
        if not re.match(MOOD_PATTERN, mood) or len(mood) > 30:
            raise ActionFailed("a mood is a single lower-case word.")
        if ctx.room_state is None:
            raise ActionFailed("moods cannot be changed here.")
        ctx.room_state.mood_set(mood)
        return [Response(text=f"Mood set to {mood}.", template="mood_set", values={"mood": mood})]


def _participants(ctx: ActionContext) -> ParticipantsPort:
    if ctx.participants is None:
        raise ActionFailed("participants cannot be changed here.")
    return ctx.participants


def _target(ctx: ActionContext, name: str) -> ParticipantInfo:
    target = _participants(ctx).find(name)
    if target is None:
        raise ActionFailed(f"I don't know anyone called {name} here.")
    if ctx.participant is not None and target.trust_level >= ctx.participant.trust_level:
        raise ActionFailed(f"you cannot change {target.name}: they are trusted as much as you.")
    return target


@dataclass(frozen=True)
class NameArgs:
    name: str


class _IgnoredSet(ActionType):
    """Shared by ignore and unignore: set a participant's ignored flag."""

    Args = NameArgs
    min_trust = TrustLevel.TRUSTED
    is_ignored: bool
    answer: str  # with {name}
    template: str

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        target = _target(ctx, NameArgs(**call.arguments).name)
        _participants(ctx).ignored_set(target.id, self.is_ignored)
        text = self.answer.format(name=target.name)
        return [Response(text=text, template=self.template, values={"name": target.name})]


@action_types.register
class IgnoreAction(_IgnoredSet):
    """Ignores a participant: their messages are kept but not answered."""

    key = "ignore"
    label = "Ignore participant"
    is_ignored = True
    answer = "Ignoring {name}."
    template = "ignored"


@action_types.register
class UnignoreAction(_IgnoredSet):
    """Stops ignoring a participant."""

    key = "unignore"
    label = "Stop ignoring participant"
    is_ignored = False
    answer = "Listening to {name} again."
    template = "unignored"


@dataclass(frozen=True)
class TrustArgs:
    name: str
    level: str


@action_types.register
class TrustSetAction(ActionType):
    """Sets a participant's trust level (visitor, member, trusted), below one's own."""

    key = "trust_set"
    label = "Set trust level"
    Args = TrustArgs
    min_trust = TrustLevel.TRUSTED

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        args = TrustArgs(**call.arguments)
        level = TRUST_NAMES.get(args.level.strip().lower())
        if level is None:
            raise ActionFailed(f"trust levels are {', '.join(TRUST_NAMES)}.")
        own = ctx.participant.trust_level if ctx.participant else TrustLevel.OWNER
        if level >= own:
            raise ActionFailed("you can only give trust below your own.")
        target = _target(ctx, args.name)
        _participants(ctx).trust_set(target.id, level)
        return [
            Response(
                text=f"{target.name} is now {level.name.lower()}.",
                template="trust_set",
                values={"name": target.name, "level": level.name.lower()},
            )
        ]
