"""Read-only queries of the publishing app."""

from django.db.models import QuerySet

from engine.ports import PostView
from publishers.models import Post


def posts_latest(
    *, bot_id: int, publisher: str | None, limit: int, offset: int, tag: str | None
) -> QuerySet[Post]:
    """A bot's posts, newest first, optionally of one publisher and with one tag."""
    queryset = Post.objects.filter(publisher__bot_id=bot_id, publisher__is_enabled=True)
    if publisher:
        queryset = queryset.filter(publisher__slug=publisher)
    if tag:
        # Tags are stored lower-case in a JSON list; matching the quoted item works on
        # SQLite and PostgreSQL alike.
        queryset = queryset.filter(tags__icontains=f'"{tag.lower()}"')
    return queryset.order_by("-published_at", "-created_at", "-id")[offset : offset + limit]


class PostsFromDatabase:
    """The `PostsPort` actions get on a worker: one bot's posts."""

    def __init__(self, bot_id: int) -> None:
        self.bot_id = bot_id

    def latest(
        self, *, publisher: str | None, limit: int, offset: int, tag: str | None
    ) -> list[PostView]:
        return [
            PostView(
                title=post.title,
                link=post.link,
                published_at=post.published_at.isoformat() if post.published_at else None,
                tags=tuple(post.tags),
            )
            for post in posts_latest(
                bot_id=self.bot_id, publisher=publisher, limit=limit, offset=offset, tag=tag
            )
        ]
