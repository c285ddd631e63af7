from conversations.middleware.base import MiddlewareContext, MiddlewareMessage, MiddlewareType
from conversations.middleware.registry import middleware_types


@middleware_types.register
class IgnoreListMiddleware(MiddlewareType):
    """Drops messages from participants staff or trusted users have ignored."""

    key = "ignore_list"
    label = "Ignore list"

    def process(
        self, message: MiddlewareMessage, ctx: MiddlewareContext
    ) -> MiddlewareMessage | None:
        return None if ctx.participant.is_ignored else message
