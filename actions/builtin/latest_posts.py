from dataclasses import dataclass

from django import forms

from actions.base import ActionContext, ActionType
from actions.exceptions import ActionFailed
from actions.registry import action_types
from engine.messages import ActionCall, Response

MAX_POSTS = 10


@dataclass(frozen=True)
class LatestPostsArgs:
    limit: int = 1
    offset: int = 0
    tag: str | None = None


@action_types.register
class LatestPostsAction(ActionType):
    """Shows the most recent posts, optionally about one tag."""

    key = "latest_posts"
    label = "Latest posts"
    Args = LatestPostsArgs
    example_config = {"publisher": "news"}

    class ConfigForm(forms.Form):
        publisher = forms.SlugField(
            required=False, help_text="The publisher's slug; empty: all of the bot's publishers."
        )

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        args = LatestPostsArgs(**call.arguments)
        if not 1 <= args.limit <= MAX_POSTS:
            raise ActionFailed(f"I can show between 1 and {MAX_POSTS} posts at a time.")
        if args.offset < 0:
            raise ActionFailed("there is nothing newer than the newest post.")
        if ctx.posts is None:
            raise ActionFailed("posts are not available here.")
        posts = ctx.posts.latest(
            publisher=self.config.get("publisher") or None,
            limit=args.limit,
            offset=args.offset,
            tag=args.tag,
        )
        about = f" about {args.tag}" if args.tag else ""
        values = {"tag": args.tag or "", "count": len(posts)}
        if not posts:
            return [
                Response(
                    text=f"I found no posts{about}.", template="latest_posts_none", values=values
                )
            ]
        lines = [f"• {post.title}" + (f" — {post.link}" if post.link else "") for post in posts]
        listing = "\n".join(lines)
        return [
            Response(
                text=listing,
                template="latest_posts",
                values={**values, "posts": listing, "titles": [post.title for post in posts]},
            )
        ]
