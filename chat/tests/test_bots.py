import pytest
from django.urls import reverse

from actions.models import ActionRun
from actions.services import action_run_execute, bot_defaults_install
from chat.messages import message_receive
from conversations.models import BotMiddleware
from conversations.tests.factories import BotFactory, bot_admin_form, inbound_message

pytestmark = pytest.mark.django_db


def answers(slug: str, text: str) -> list[str]:
    """What the bot answers a web chat visitor, running its queued calls as a worker would."""
    receipt = message_receive(inbound=inbound_message(text, bot_slug=slug))
    replies = [reply.text for reply in receipt.replies]
    for run in ActionRun.objects.filter(message_id=receipt.message.id).order_by("id"):
        replies += [reply.text for reply in action_run_execute(run_id=run.pk)]
    return replies


def bot_form(**changes: object) -> dict[str, object]:
    return bot_admin_form(name="Fresh", slug="fresh", **changes)


HELP = "Fresh understands these commands:\n!help — Lists the bot's commands and what each one does."


def test_a_bot_created_in_the_admin_answers_help_from_its_first_message(admin_client):
    response = admin_client.post(reverse("admin:conversations_bot_add"), bot_form())

    assert response.status_code == 302, response.content.decode()[:2000]
    assert answers("fresh", "!help") == [HELP]
    assert answers("fresh", "!dance") == ["I don't know !dance. Try !help."]


def test_a_stage_added_with_the_bot_in_the_admin_is_kept_and_not_doubled(admin_client):
    form = bot_form(
        **{
            "middleware_stack-TOTAL_FORMS": 1,
            "middleware_stack-0-position": 3,
            "middleware_stack-0-kind": "ignore_list",
            "middleware_stack-0-config": "{}",
            "middleware_stack-0-is_enabled": "on",
        }
    )

    admin_client.post(reverse("admin:conversations_bot_add"), form)

    assert list(BotMiddleware.objects.values_list("kind", "position")) == [("ignore_list", 3)]


def test_a_bot_whose_help_staff_removed_never_points_to_it():
    bot = BotFactory(slug="bare", names=["bare"])
    bot_defaults_install(bot=bot)
    bot.actions.filter(kind="help").delete()

    assert answers("bare", "!help") == ["I don't know !help."]
    assert answers("bare", "bare, what?") == ["I didn't understand that."]
