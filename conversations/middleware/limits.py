"""Limits on how much participants may ask: per minute (participant, room) and per day."""

from django import forms

from conversations.middleware.base import MiddlewareContext, MiddlewareMessage, MiddlewareType
from conversations.middleware.registry import middleware_types

DAY_SECONDS = 86_400


def _is_over(ctx: MiddlewareContext, key: str, limit: int | None, window_seconds: int) -> bool:
    if not limit or ctx.counters is None:
        return False
    return ctx.counters.hit(key, window_seconds) > limit


@middleware_types.register
class RateLimitMiddleware(MiddlewareType):
    """Drops messages beyond a number per window, per participant and per room."""

    key = "rate_limit"
    label = "Rate limit"
    example_config = {"per_participant": 10, "per_room": 60, "window_seconds": 60}

    class ConfigForm(forms.Form):
        per_participant = forms.IntegerField(
            min_value=1, required=False, help_text="Messages one participant may send per window."
        )
        per_room = forms.IntegerField(
            min_value=1, required=False, help_text="Messages a whole room may send per window."
        )
        window_seconds = forms.IntegerField(min_value=1, max_value=DAY_SECONDS, initial=60)

    def process(
        self, message: MiddlewareMessage, ctx: MiddlewareContext
    ) -> MiddlewareMessage | None:
        # Fixed windows counted with atomic increments in the shared cache: a burst may
        # straddle two windows, which is the price of needing no locks across processes.
        window = self.config.get("window_seconds") or 60
        bot = ctx.bot.id
        if _is_over(
            ctx, f"rate:{bot}:p:{ctx.participant.id}", self.config.get("per_participant"), window
        ):
            return None
        if _is_over(ctx, f"rate:{bot}:r:{ctx.room.id}", self.config.get("per_room"), window):
            return None
        return message


@middleware_types.register
class UsageCapMiddleware(MiddlewareType):
    """Drops a participant's messages past a number per day."""

    key = "usage_cap"
    label = "Daily usage cap"
    example_config = {"per_day": 500}

    class ConfigForm(forms.Form):
        per_day = forms.IntegerField(min_value=1, help_text="Messages per participant per day.")

    def process(
        self, message: MiddlewareMessage, ctx: MiddlewareContext
    ) -> MiddlewareMessage | None:
        key = f"usage:{ctx.bot.id}:{ctx.participant.id}"
        if _is_over(ctx, key, self.config.get("per_day"), DAY_SECONDS):
            return None
        return message
