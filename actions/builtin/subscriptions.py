"""subscribe / unsubscribe / subscriptions: follow the bot's publishers from the chat."""

from dataclasses import dataclass

from actions.base import ActionContext, ActionType, SubscriptionsPort
from actions.exceptions import ActionFailed
from actions.registry import action_types
from engine.messages import ActionCall, Response


def _port(ctx: ActionContext) -> SubscriptionsPort:
    if ctx.subscriptions is None:
        raise ActionFailed("subscriptions are not available here.")
    return ctx.subscriptions


def _unknown(ctx: ActionContext, slug: str) -> ActionFailed:
    known = ", ".join(p.publisher for p in _port(ctx).publishers()) or "none yet"
    return ActionFailed(f"there is no publisher {slug!r}; there are: {known}.")


@dataclass(frozen=True)
class SubscribeArgs:
    publisher: str
    tag: str | None = None


@action_types.register
class SubscribeAction(ActionType):
    """Pushes a publisher's new posts into this room, optionally only about one tag."""

    key = "subscribe"
    label = "Subscribe"
    Args = SubscribeArgs

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        args = SubscribeArgs(**call.arguments)
        slug, tag = args.publisher.strip().lower(), (args.tag or "").strip().lower()
        try:
            is_new = _port(ctx).subscribe(publisher=slug, tag=tag)
        except LookupError:
            raise _unknown(ctx, slug) from None
        about = f" about {tag}" if tag else ""
        text = (
            f"Subscribed: new {slug} posts{about} will appear here."
            if is_new
            else f"This room already gets {slug} posts{about}."
        )
        return [Response(text=text, template="subscribed", values={"publisher": slug, "tag": tag})]


@dataclass(frozen=True)
class UnsubscribeArgs:
    publisher: str


@action_types.register
class UnsubscribeAction(ActionType):
    """Stops a publisher's posts in this room, in one step."""

    key = "unsubscribe"
    label = "Unsubscribe"
    Args = UnsubscribeArgs

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        slug = UnsubscribeArgs(**call.arguments).publisher.strip().lower()
        try:
            ended = _port(ctx).unsubscribe(publisher=slug)
        except LookupError:
            raise _unknown(ctx, slug) from None
        text = f"Unsubscribed from {slug}." if ended else f"This room was not subscribed to {slug}."
        return [Response(text=text, template="unsubscribed", values={"publisher": slug})]


@action_types.register
class SubscriptionsListAction(ActionType):
    """Lists this room's subscriptions and the publishers there are."""

    key = "subscriptions_list"
    label = "List subscriptions"

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        port = _port(ctx)
        mine = [f"• {s.publisher}" + (f" (about {s.tag})" if s.tag else "") for s in port.list()]
        available = ", ".join(p.publisher for p in port.publishers()) or "none yet"
        text = "\n".join(
            ["This room follows:", *mine] if mine else ["This room follows no publisher."]
        )
        text += f"\nPublishers: {available}."
        return [Response(text=text, template="subscriptions", values={"subscriptions": text})]
