"""remember / recall / forget: what participants ask the bot to keep."""

from dataclasses import dataclass

from django import forms

from actions.base import ActionContext, ActionType, MemoryPort
from actions.exceptions import ActionFailed
from actions.registry import action_types
from engine.arguments import DictatedText
from engine.messages import ActionCall, Response

SCOPE_CHOICES = [
    ("participant", "Each participant's own"),
    ("room", "Shared in the room"),
    ("bot", "Shared by the whole bot"),
]
KEY_PREFIX = "note:"  # keeps participants' notes apart from what the engine remembers


class MemoryConfigForm(forms.Form):
    scope = forms.ChoiceField(choices=SCOPE_CHOICES, initial="participant")
    ttl_seconds = forms.IntegerField(
        required=False, min_value=60, help_text="Forget after this long; empty: keep."
    )


def _memory(ctx: ActionContext) -> MemoryPort:
    if ctx.memory is None:
        raise ActionFailed("memory is not available here.")
    return ctx.memory


def _key(raw: str) -> str:
    key = raw.strip().lower()
    if not key or len(key) > 60:
        raise ActionFailed("a name to remember things by has 1 to 60 characters.")
    return KEY_PREFIX + key


@dataclass(frozen=True)
class RememberArgs:
    key: str
    value: DictatedText


@action_types.register
class RememberAction(ActionType):
    """Remembers a note under a name: remember wifi the code is 1234."""

    key = "remember"
    label = "Remember"
    Args = RememberArgs
    ConfigForm = MemoryConfigForm
    example_config = {"scope": "participant"}

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        args = RememberArgs(**call.arguments)
        _memory(ctx).remember(
            key=_key(args.key),
            value=args.value,
            scope=self.config.get("scope") or "participant",
            ttl_seconds=self.config.get("ttl_seconds"),
        )
        return [
            Response(
                text=f"OK, I'll remember {args.key}.",
                template="remembered",
                values={"key": args.key},
            )
        ]


@dataclass(frozen=True)
class KeyArgs:
    key: str


@action_types.register
class RecallAction(ActionType):
    """Says what was remembered under a name."""

    key = "recall"
    label = "Recall"
    Args = KeyArgs
    ConfigForm = MemoryConfigForm
    example_config = {"scope": "participant"}

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        args = KeyArgs(**call.arguments)
        value = _memory(ctx).recall(
            key=_key(args.key), scope=self.config.get("scope") or "participant"
        )
        if value is None:
            return [
                Response(
                    text=f"I don't remember anything about {args.key}.",
                    template="recall_nothing",
                    values={"key": args.key},
                )
            ]
        return [
            Response(
                text=f"{args.key}: {value}",
                template="recalled",
                values={"key": args.key, "value": value},
            )
        ]


@action_types.register
class ForgetAction(ActionType):
    """Forgets what was remembered under a name."""

    key = "forget"
    label = "Forget"
    Args = KeyArgs
    ConfigForm = MemoryConfigForm
    example_config = {"scope": "participant"}

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        args = KeyArgs(**call.arguments)
        had = _memory(ctx).forget(
            key=_key(args.key), scope=self.config.get("scope") or "participant"
        )
        text = f"Forgotten: {args.key}." if had else f"I had nothing about {args.key}."
        return [Response(text=text, template="forgotten", values={"key": args.key})]
