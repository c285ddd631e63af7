from dataclasses import dataclass, field

import pytest

from actions.base import ActionContext, PostView
from actions.builtin.latest_posts import LatestPostsAction
from actions.exceptions import ActionFailed
from engine.messages import ActionCall
from engine.tests import snapshots


@dataclass
class PostsInMemory:
    posts: list[PostView]
    asked: list[dict] = field(default_factory=list)

    def latest(self, *, publisher, limit, offset, tag):
        self.asked.append({"publisher": publisher, "limit": limit, "offset": offset, "tag": tag})
        matching = [post for post in self.posts if tag is None or tag in post.tags]
        return matching[offset : offset + limit]


POSTS = [
    PostView(title=f"Post {n}", link=f"https://example.com/{n}", published_at=None, tags=tags)
    for n, tags in enumerate([("golang",), ("python",), ("golang",), ()], start=1)
]


def run(arguments, config=None, posts=None):
    port = posts or PostsInMemory(POSTS)
    ctx = ActionContext(
        bot=snapshots.bot(), room=snapshots.DIRECT_ROOM, participant=None, posts=port
    )
    call = ActionCall(action=snapshots.action("latest"), arguments=arguments, source="test")
    return LatestPostsAction(config or {}).run(call, ctx), port


def test_the_newest_posts_are_listed_with_their_links():
    [response], _ = run({"limit": 2})

    assert response.text == "• Post 1 — https://example.com/1\n• Post 2 — https://example.com/2"


def test_offset_tag_and_publisher_reach_the_posts_port():
    [response], port = run({"limit": 1, "offset": 1, "tag": "golang"}, {"publisher": "news"})

    assert response.text == "• Post 3 — https://example.com/3"
    assert port.asked == [{"publisher": "news", "limit": 1, "offset": 1, "tag": "golang"}]


def test_no_matching_posts_is_said_plainly():
    [response], _ = run({"tag": "rust"})

    assert response.text == "I found no posts about rust."


@pytest.mark.parametrize("arguments", [{"limit": 0}, {"limit": 11}, {"offset": -1}])
def test_out_of_range_requests_fail_with_a_reason(arguments):
    with pytest.raises(ActionFailed):
        run(arguments)
