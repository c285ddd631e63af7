"""The contract of a publisher type: a source of posts fetched on a schedule."""

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botsite.registry import Plugin


@dataclass(frozen=True)
class PostItem:
    """One item as a source gives it; `source_id` is what makes it unique per publisher."""

    source_id: str
    title: str
    body: str = ""
    link: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    published_at: datetime | None = None


class PublisherType(Plugin, ABC):
    """Base of publisher types. Subclass it for a Python publisher."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def source(self) -> str:
        """What names the source this config reads (a feed's URL). When it changes, the
        next run is a first run: what it finds is the backlog, not news. By default the
        whole config."""
        return json.dumps(self.config, sort_keys=True, default=str)

    @abstractmethod
    def fetch(self) -> Iterable[PostItem]:
        """Return the items the source offers now, newest or oldest first.

        Called on a Celery worker at each scheduled run. Items already stored (same
        `source_id`) are skipped by the caller, so returning old items again is harmless.
        Outbound HTTP goes through the project's one HTTP client.
        """
