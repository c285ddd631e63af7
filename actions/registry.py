from actions.base import ActionType
from botsite.registry import Registry

action_types: Registry[type[ActionType]] = Registry(
    "action", contract=ActionType, group="botsite.actions"
)


def action_type_choices() -> list[tuple[str, str]]:
    return action_types.choices()
