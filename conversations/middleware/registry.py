from botsite.registry import Registry
from conversations.middleware.base import MiddlewareType

middleware_types: Registry[type[MiddlewareType]] = Registry("middleware")


def middleware_type_choices() -> list[tuple[str, str]]:
    return middleware_types.choices()
