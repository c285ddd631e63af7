from dataclasses import dataclass

from django import forms

from actions.base import ActionContext, ActionType
from actions.registry import action_types
from engine.messages import ActionCall, Response
from engine.render import TemplateError, template_fill, template_names


@dataclass(frozen=True)
class TemplateReplyArgs:
    text: str | None = None


@action_types.register
class TemplateReplyAction(ActionType):
    """Replies with a response template, in the room's mood; {text} is what the user added."""

    key = "template_reply"
    label = "Template reply"
    Args = TemplateReplyArgs
    runs_inline = True
    example_config = {"template": "greeting", "text": "Hello {participant}!"}

    class ConfigForm(forms.Form):
        template = forms.SlugField(
            help_text="Key of the response templates to use (their variants per mood)."
        )
        text = forms.CharField(
            max_length=4000,
            help_text="Used when no template of that key fits the mood; same placeholders.",
        )

        def clean_text(self) -> str:
            text: str = self.cleaned_data["text"]
            try:
                template_names(text)
            except TemplateError as error:
                raise forms.ValidationError(str(error)) from error
            return text

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        args = TemplateReplyArgs(**call.arguments)
        values = {
            "text": args.text or "",
            "participant": ctx.participant.name if ctx.participant else "",
            "bot": ctx.bot.name,
        }
        return [
            Response(
                text=template_fill(self.config["text"], values),
                template=self.config["template"],
                values=values,
            )
        ]
