from botsite.registry import Registry
from conversations.middleware.base import MiddlewareType
from engine.snapshots import MiddlewareSnapshot

middleware_types: Registry[type[MiddlewareType]] = Registry(
    "middleware", contract=MiddlewareType, group="botsite.middleware"
)


def middleware_type_choices() -> list[tuple[str, str]]:
    return middleware_types.choices()


def middleware_stage(stage: MiddlewareSnapshot) -> MiddlewareType | None:
    """The stage a bot's middleware row configures, for the engine; None when its type is
    not installed (removed or misspelt)."""
    if stage.kind not in middleware_types:
        return None
    return middleware_types.get(stage.kind)(dict(stage.config))
