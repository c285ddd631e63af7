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
    """Drops messages beyond a rate per participant and per room (token buckets)."""

    key = "rate_limit"
    label = "Rate limit"
    example_config = {"participant_per_minute": 10, "room_per_minute": 60, "burst": 5}

    class ConfigForm(forms.Form):
        participant_per_minute = forms.IntegerField(
            min_value=1, required=False, help_text="Steady messages per minute per participant."
        )
        room_per_minute = forms.IntegerField(
            min_value=1, required=False, help_text="Steady messages per minute per room."
        )
        burst = forms.IntegerField(
            min_value=1,
            required=False,
            help_text="Messages allowed at once before the rate applies; empty: a minute's worth.",
        )

    def process(
        self, message: MiddlewareMessage, ctx: MiddlewareContext
    ) -> MiddlewareMessage | None:
        if ctx.buckets is None:
            return message
        bot = ctx.bot.id
        for key, per_minute in (
            (f"rate:{bot}:p:{ctx.participant.id}", self.config.get("participant_per_minute")),
            (f"rate:{bot}:r:{ctx.room.id}", self.config.get("room_per_minute")),
        ):
            if per_minute and not ctx.buckets.take(
                key, capacity=self.config.get("burst") or per_minute, per_second=per_minute / 60
            ):
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
