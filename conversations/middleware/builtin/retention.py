from dataclasses import replace

from django import forms

from conversations.middleware.base import MiddlewareContext, MiddlewareMessage, MiddlewareType
from conversations.middleware.registry import middleware_types


@middleware_types.register
class RetentionMiddleware(MiddlewareType):
    """Logs messages for a limited time: they and the replies are deleted after N days."""

    key = "retention"
    label = "Message log retention"
    example_config = {"days": 30}

    class ConfigForm(forms.Form):
        days = forms.IntegerField(min_value=1, max_value=3650)

    def process(self, message: MiddlewareMessage, ctx: MiddlewareContext) -> MiddlewareMessage:
        return replace(message, retention_seconds=self.config["days"] * 86_400)
