"""A JSON HTTP endpoint whose items are mapped to posts by dotted paths."""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.utils.dateparse import parse_datetime

from botsite import http
from botsite.jsonpath import path_get
from publishers.base import PostItem, PublisherType
from publishers.exceptions import PublisherFetchFailed
from publishers.registry import publisher_types

PATH_HELP = "A dotted path in each item, e.g. 'id' or 'meta.link'."


class JsonEndpointConfigForm(forms.Form):
    url = forms.URLField(
        max_length=1000,
        assume_scheme="https",
        validators=[http.url_validator],
        help_text="The endpoint's address; private and local addresses are refused.",
    )
    items_path = forms.CharField(
        required=False, help_text="Where the list of items is; empty: the document is the list."
    )
    id_field = forms.CharField(initial="id", help_text=PATH_HELP)
    title_field = forms.CharField(initial="title", help_text=PATH_HELP)
    body_field = forms.CharField(required=False, help_text=PATH_HELP)
    link_field = forms.CharField(required=False, help_text=PATH_HELP)
    tags_field = forms.CharField(required=False, help_text="A list of strings, or one string.")
    published_field = forms.CharField(
        required=False, help_text="An ISO 8601 time or seconds since 1970."
    )


def _when(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value)
        except ValueError:
            return None
        if parsed is not None and parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed
    return None


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(tag) for tag in value if isinstance(tag, str | int))
    return ()


def _string(value: Any) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value)


def json_items(document: Any, config: dict[str, Any]) -> list[PostItem]:
    """Map a JSON document's items to posts; items without an id or title are skipped."""
    items = path_get(document, config.get("items_path") or "")
    if not isinstance(items, list):
        raise PublisherFetchFailed(
            f"No list of items at {config.get('items_path') or 'the top'} of the answer."
        )
    posts = []
    for item in items:

        def field(name: str, item: Any = item) -> Any:
            path = config.get(name) or ""
            return path_get(item, path) if path else None

        source_id, title = _string(field("id_field")), _string(field("title_field"))
        if not source_id or not title:
            continue
        posts.append(
            PostItem(
                source_id=source_id,
                title=title,
                body=_string(field("body_field")),
                link=_string(field("link_field")),
                tags=_tags(field("tags_field")),
                published_at=_when(field("published_field")),
            )
        )
    return posts


@publisher_types.register
class JsonEndpointPublisher(PublisherType):
    """Reads a JSON HTTP endpoint; a mapping says which field is the id, title, link..."""

    key = "json_endpoint"
    label = "JSON HTTP endpoint"
    ConfigForm = JsonEndpointConfigForm
    example_config = {
        "url": "https://api.example.com/news",
        "items_path": "data.items",
        "id_field": "id",
        "title_field": "headline",
        "body_field": "summary",
        "link_field": "url",
        "tags_field": "topics",
        "published_field": "published",
    }

    def source(self) -> str:
        return str(self.config["url"])

    def fetch(self) -> Iterable[PostItem]:
        return json_items(http.json_get(self.config["url"]), self.config)
