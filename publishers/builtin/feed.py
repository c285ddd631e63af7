"""RSS and Atom feeds, read with feedparser after a hostile-XML check."""

import calendar
import hashlib
import html
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import feedparser
import nh3
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as xml_check
from django import forms

from botsite import http
from publishers.base import PostItem, PublisherType
from publishers.exceptions import PublisherFetchFailed
from publishers.registry import publisher_types

ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9"


class FeedConfigForm(forms.Form):
    url = forms.URLField(
        max_length=1000,
        assume_scheme="https",
        validators=[http.url_validator],
        help_text="The feed's address; private and local addresses are refused.",
    )
    max_items = forms.IntegerField(
        min_value=1, max_value=500, initial=50, required=False, help_text="Newest items read."
    )


def _text(value: str) -> str:
    """Feed HTML as plain text: tags dropped, entities decoded."""
    return html.unescape(nh3.clean(value, tags=set())).strip()


def _when(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)


def feed_items(document: bytes, *, limit: int) -> list[PostItem]:
    """The items of an RSS or Atom document; raises `PublisherFetchFailed` for hostile or
    unreadable XML.

    feedparser expands what the XML parser gives it, so the document is checked first with
    defusedxml, which refuses any DTD, entity declaration or external reference: an
    entity-expansion bomb or an XXE attempt never reaches the parser.
    """
    try:
        xml_check(document, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise PublisherFetchFailed(
            f"The feed was refused: it declares a DTD or entities ({type(error).__name__})."
        ) from error
    except Exception as error:  # ParseError and friends: not well-formed XML
        raise PublisherFetchFailed(f"The feed is not well-formed XML: {error}") from error
    feed = feedparser.parse(document, sanitize_html=True, resolve_relative_uris=False)
    if not feed.get("version"):
        raise PublisherFetchFailed("The document is not an RSS or Atom feed.")
    items = []
    for entry in feed.entries[:limit]:
        link = entry.get("link", "")
        title = _text(entry.get("title", ""))
        source_id = entry.get("id") or link
        if not source_id:
            source_id = "sha256:" + hashlib.sha256(title.encode()).hexdigest()
        items.append(
            PostItem(
                source_id=source_id,
                title=title or link or "(untitled)",
                body=_text(entry.get("summary", "")),
                link=link,
                tags=tuple(tag.get("term", "") for tag in entry.get("tags", []) if tag.get("term")),
                published_at=_when(entry),
            )
        )
    return items


@publisher_types.register
class FeedPublisher(PublisherType):
    """Reads an RSS 2.0 or Atom feed; each entry becomes a post once."""

    key = "feed"
    label = "RSS or Atom feed"
    ConfigForm = FeedConfigForm
    example_config = {"url": "https://blog.example.com/feed.xml", "max_items": 50}

    def source(self) -> str:
        return str(self.config["url"])

    def fetch(self) -> Iterable[PostItem]:
        document = http.content_get(self.config["url"], accept=ACCEPT)
        return feed_items(document, limit=self.config.get("max_items") or 50)
