"""A Botsite action type from a package of its own, registered through its entry point."""

from dataclasses import dataclass

from actions.base import ActionContext, ActionType
from engine.messages import ActionCall, Response


class ShoutAction(ActionType):
    """Says the text back in capitals."""

    key = "shout"
    label = "Shout"
    runs_inline = True

    @dataclass(frozen=True)
    class Args:
        text: str

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        return [Response(text=self.Args(**call.arguments).text.upper())]
