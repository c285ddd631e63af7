from django import forms

from actions.base import ActionContext, ActionType
from actions.registry import action_types
from engine.messages import ActionCall, Response


@action_types.register
class SayAction(ActionType):
    """Replies with a fixed text."""

    key = "say"
    label = "Say a text"
    example_config = {"text": "Hello!"}
    runs_inline = True

    class ConfigForm(forms.Form):
        text = forms.CharField(max_length=4000, help_text="What the bot answers.")

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        return [Response(text=self.config["text"])]
