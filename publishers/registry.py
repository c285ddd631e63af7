from botsite.registry import Registry
from publishers.base import PublisherType

publisher_types: Registry[type[PublisherType]] = Registry(
    "publisher", contract=PublisherType, group="botsite.publishers"
)


def publisher_type_choices() -> list[tuple[str, str]]:
    return publisher_types.choices()
