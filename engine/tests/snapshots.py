"""Plain-data bots for engine tests: no database needed."""

from dataclasses import dataclass, replace

from engine.messages import ParticipantInfo, RoomInfo, TrustLevel
from engine.middleware import MiddlewareContext, MiddlewareMessage, MiddlewareStage
from engine.snapshots import ActionSnapshot, BotSnapshot, CommandSnapshot, MiddlewareSnapshot


@dataclass(frozen=True)
class RepeatArgs:
    times: int
    text: str = "hi"


@dataclass(frozen=True)
class NoArgs:
    pass


ARGS_TYPES: dict[str, type] = {"repeat": RepeatArgs, "help": NoArgs}


def args_type_for(kind: str) -> type | None:
    return ARGS_TYPES.get(kind)


class DropIgnored:
    def process(
        self, message: MiddlewareMessage, ctx: MiddlewareContext
    ) -> MiddlewareMessage | None:
        return None if ctx.participant.is_ignored else message


class Shout:
    def process(self, message: MiddlewareMessage, ctx: MiddlewareContext) -> MiddlewareMessage:
        return replace(message, text=message.text.upper())


#: Plain stages in place of the middleware plugins (`conversations.middleware`).
STAGES: dict[str, MiddlewareStage] = {"ignore_list": DropIgnored(), "shout": Shout()}


def middleware_stage(stage: MiddlewareSnapshot) -> MiddlewareStage | None:
    return STAGES.get(stage.kind)


def action(name: str, kind: str = "repeat", min_trust: int = 0) -> ActionSnapshot:
    return ActionSnapshot(id=1, name=name, kind=kind, config={}, min_trust=min_trust)


def bot(**overrides: object) -> BotSnapshot:
    values: dict[str, object] = {
        "id": 1,
        "slug": "test",
        "name": "Test bot",
        "command_prefix": "!",
        "names": ("hey bot",),
        "default_mood": "neutral",
        "commands": {
            "help": CommandSnapshot(word="help", action=action("help", kind="help")),
            "repeat": CommandSnapshot(word="repeat", action=action("repeat")),
            "twice": CommandSnapshot(word="twice", action=action("twice"), arguments={"times": 2}),
            "admin": CommandSnapshot(
                word="admin", action=action("admin", min_trust=TrustLevel.TRUSTED)
            ),
            "gone": CommandSnapshot(word="gone", action=action("gone", kind="removed")),
        },
        "middleware": (MiddlewareSnapshot(kind="ignore_list", config={}),),
    }
    values.update(overrides)
    return BotSnapshot(**values)  # type: ignore[arg-type]


GROUP_ROOM = RoomInfo(id=1, connector="webchat", is_direct=False, mood="neutral")
DIRECT_ROOM = RoomInfo(id=2, connector="webchat", is_direct=True, mood="neutral")
VISITOR = ParticipantInfo(id=1, name="Ada", trust_level=TrustLevel.VISITOR)
IGNORED = ParticipantInfo(id=2, name="Troll", trust_level=TrustLevel.VISITOR, is_ignored=True)
TRUSTED = ParticipantInfo(id=3, name="Grace", trust_level=TrustLevel.TRUSTED)
