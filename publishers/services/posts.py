"""Posts: stored once per source item (history or to send), or written by staff."""

import hashlib
import uuid
from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from publishers.base import PostItem
from publishers.deliveries import deliveries_create
from publishers.models import Post, Publisher


def post_is_history(post: Post, horizon: datetime | None) -> bool:
    return horizon is not None and (post.published_at is None or post.published_at < horizon)


def _source_id(item: PostItem) -> str:
    if len(item.source_id) <= 255:
        return item.source_id
    return "sha256:" + hashlib.sha256(item.source_id.encode()).hexdigest()


def _post_from(publisher: Publisher, item: PostItem) -> Post:
    link = item.link if item.link.startswith(("https://", "http://")) else ""
    return Post(
        publisher=publisher,
        source_id=_source_id(item),
        title=(item.title or item.link or item.source_id)[:300],
        body=item.body,
        link=link if len(link) <= 1000 else "",
        tags=list(dict.fromkeys(tag.strip().lower()[:100] for tag in item.tags if tag.strip())),
        published_at=item.published_at,
    )


def posts_store(
    *, publisher: Publisher, items: Iterable[PostItem], history_before: datetime | None = None
) -> list[Post]:
    """Store the items not stored yet, each with its deliveries; returns the new posts.

    With `history_before`, items published before it (or undated) are stored as history,
    without deliveries: a first run's backlog.
    """
    items = list(items)
    known = set(
        Post.objects.filter(
            publisher=publisher, source_id__in=[_source_id(item) for item in items]
        ).values_list("source_id", flat=True)
    )
    new: list[Post] = []
    for item in items:
        post = _post_from(publisher, item)
        if post.source_id in known:
            continue
        known.add(post.source_id)
        try:
            with transaction.atomic():
                post.save()
                if not post_is_history(post, history_before):
                    deliveries_create(post=post)
        except IntegrityError:  # stored by an overlapping run a moment ago
            continue
        new.append(post)
    return new


def post_create(
    *,
    publisher: Publisher,
    title: str,
    body: str = "",
    link: str = "",
    tags: Iterable[str] = (),
    published_at: datetime | None = None,
) -> Post:
    """A post written by staff: stored, and fanned out at once or, dated in the future, then."""
    post = Post(
        publisher=publisher,
        source_id=f"manual:{uuid.uuid4().hex}",
        title=title,
        body=body,
        link=link,
        tags=list(tags),
        published_at=published_at or timezone.now(),
    )
    post.full_clean()
    with transaction.atomic():
        post.save()
        deliveries_create(post=post)
    return post
