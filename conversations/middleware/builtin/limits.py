"""Limits on how much participants may ask: per minute (participant, room) and per day.

A participant whose message a limit drops is told so once per window (the minute of a rate,
the day of a cap), not once per dropped message: the notice must not become the flood.
"""

from django import forms

from conversations.middleware.base import (
    MiddlewareContext,
    MiddlewareDrop,
    MiddlewareMessage,
    MiddlewareType,
)
from conversations.middleware.registry import middleware_types
from engine.messages import Response

DAY_SECONDS = 86_400
MINUTE_SECONDS = 60


def _is_over(ctx: MiddlewareContext, key: str, limit: int | None, window_seconds: int) -> bool:
    if not limit or ctx.counters is None:
        return False
    return ctx.counters.hit(key, window_seconds) > limit


def _drop(
    ctx: MiddlewareContext, key: str, window_seconds: int, reply: Response
) -> MiddlewareDrop | None:
    """Drop the message; answer with `reply` if the participant was not told this window.
    Without shared counters there is no telling who was told: each drop answers."""
    if ctx.counters is not None and ctx.counters.hit(f"told:{key}", window_seconds) > 1:
        return None
    return MiddlewareDrop(reply)


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
    ) -> MiddlewareMessage | MiddlewareDrop | None:
        if ctx.buckets is None:
            return message
        bot, participant = ctx.bot.id, f"rate:{ctx.bot.id}:p:{ctx.participant.id}"
        for scope, key, per_minute in (
            ("participant", participant, self.config.get("participant_per_minute")),
            ("room", f"rate:{bot}:r:{ctx.room.id}", self.config.get("room_per_minute")),
        ):
            if per_minute and not ctx.buckets.take(
                key, capacity=self.config.get("burst") or per_minute, per_second=per_minute / 60
            ):
                who = "You are" if scope == "participant" else "This room is"
                reply = Response(
                    text=f"{who} sending messages faster than I take them "
                    f"({per_minute} a minute); I'm skipping some for a moment.",
                    template="rate_limited",
                    values={"scope": scope, "per_minute": per_minute},
                )
                # Told per participant, whichever limit dropped: each hears it once a minute.
                return _drop(ctx, participant, MINUTE_SECONDS, reply)
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
    ) -> MiddlewareMessage | MiddlewareDrop | None:
        key = f"usage:{ctx.bot.id}:{ctx.participant.id}"
        per_day = self.config.get("per_day")
        if _is_over(ctx, key, per_day, DAY_SECONDS):
            reply = Response(
                text=f"You have reached today's limit of {per_day} messages; "
                "I'll answer again tomorrow.",
                template="usage_capped",
                values={"per_day": per_day},
            )
            return _drop(ctx, key, DAY_SECONDS, reply)
        return message
