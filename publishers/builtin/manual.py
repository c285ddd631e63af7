from collections.abc import Iterable

from publishers.base import PostItem, PublisherType
from publishers.registry import publisher_types


@publisher_types.register
class ManualPublisher(PublisherType):
    """Posts written by staff in the admin; a scheduled run finds nothing new to fetch."""

    key = "manual"
    label = "Written in the admin"

    def fetch(self) -> Iterable[PostItem]:
        return ()
