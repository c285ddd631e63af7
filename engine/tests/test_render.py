import random

import pytest

from engine.messages import ParticipantInfo, Response
from engine.render import (
    TemplateError,
    html_sanitise,
    responses_render,
    template_choose,
    template_fill,
    template_names,
)
from engine.snapshots import TemplateSnapshot
from engine.tests import snapshots


def test_placeholders_are_filled_with_plain_values():
    text = template_fill(
        "{participant}: {count} posts about {tags}, {{literal}} {unknown}",
        {"participant": "Ada", "count": 3, "tags": ["go", "rust"]},
    )

    assert text == "Ada: 3 posts about go, rust, {literal} {unknown}"


@pytest.mark.parametrize(
    "template",
    ["{participant.__class__}", "{posts[0]}", "{ord('a')}", "{Participant}", "a } b", "{"],
)
def test_templates_that_reach_for_more_than_a_name_are_refused(template):
    with pytest.raises(TemplateError):
        template_names(template)


def test_objects_never_reach_a_reply():
    assert template_fill("{x}", {"x": object()}) == ""


def test_values_are_escaped_in_html_and_markup_is_sanitised():
    markup = template_fill("<b>{name}</b>", {"name": "<img src=x onerror=alert(1)>"}, escape=True)

    assert markup == "<b>&lt;img src=x onerror=alert(1)&gt;</b>"
    assert html_sanitise('<script>alert(1)</script><a href="javascript:x" onclick="y">l</a>') == (
        '<a rel="noopener noreferrer nofollow">l</a>'
    )


VARIANTS = [
    TemplateSnapshot(key="greet", mood="cheerful", text="Hi {participant}!"),
    TemplateSnapshot(key="greet", mood="cheerful", text="Hello hello {participant}!"),
    TemplateSnapshot(key="greet", mood="", text="Good day, {participant}."),
    TemplateSnapshot(key="other", mood="grumpy", text="What."),
]


def test_a_moods_variants_are_chosen_at_random_and_any_mood_is_the_fallback():
    rng = random.Random(7)
    cheerful = {template_choose(VARIANTS, "greet", "cheerful", rng).text for _ in range(40)}
    grumpy = template_choose(VARIANTS, "greet", "grumpy", rng)

    assert cheerful == {"Hi {participant}!", "Hello hello {participant}!"}
    assert grumpy.text == "Good day, {participant}."
    assert template_choose(VARIANTS, "missing", "grumpy", rng) is None


def test_replies_use_staff_templates_in_the_rooms_mood_else_their_own_text():
    bot = snapshots.bot(
        templates=(
            TemplateSnapshot(
                key="greet",
                mood="neutral",
                text="Hey {participant}, {count} new",
                html="<i>{participant}</i><script>x()</script>",
            ),
            TemplateSnapshot(key="greet", mood="grumpy", text="Go away."),
        )
    )
    ada = ParticipantInfo(id=1, name="<Ada>", trust_level=0)
    replies = [
        Response(text="default", template="greet", values={"count": 2}),
        Response(text="no template for this", template="nothing"),
    ]

    rendered = responses_render(bot, snapshots.GROUP_ROOM, ada, replies, rng=random.Random(1))

    assert rendered[0].text == "Hey <Ada>, 2 new"
    assert rendered[0].html == "<i>&lt;Ada&gt;</i>"
    assert rendered[1] == Response(text="no template for this")
