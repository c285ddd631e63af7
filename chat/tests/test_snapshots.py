"""The cached bot snapshot: reused while the configuration is unchanged, rebuilt at the
next message after any change, in whatever way staff or participants made it."""

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from actions.models import Action, ActionRun, Command, ResponseTemplate
from actions.services import action_run_execute
from actions.snapshots import bot_snapshot_get
from actions.tests.factories import CommandFactory
from chat.messages import message_receive
from conversations.models import Bot, MemoryEntry, Participant
from conversations.tests.factories import inbound_message
from engine.messages import TrustLevel


def _reply(text: str) -> str:
    [reply] = message_receive(inbound=inbound_message(text)).replies
    return reply.text


def test_an_unchanged_bot_answers_without_reading_its_configuration_again(
    demo_bot, django_assert_num_queries
):
    message_receive(inbound=inbound_message("!ping"))  # warms this process

    # Bot, room and participant with the backlog, resend and open-question checks in one
    # query, then the message and its reply stored in one transaction (a savepoint, and
    # its release, inside the test's own transaction).
    with django_assert_num_queries(5):
        assert _reply("!ping") == "pong"


def _add_command(bot: Bot) -> None:
    CommandFactory(bot=bot, word="hello", action__bot=bot, action__config={"text": "Hi there"})


def _disable_ping(bot: Bot) -> None:
    action = Action.objects.get(bot=bot, name="ping")
    action.is_enabled = False
    action.save()


def _delete_ping(bot: Bot) -> None:
    Command.objects.filter(bot=bot, word="ping").delete()


def _rename_prefix(bot: Bot) -> None:
    bot.command_prefix = "/"
    bot.save(update_fields=["command_prefix"])


def _template_for_unknown(bot: Bot) -> None:
    ResponseTemplate.objects.create(bot=bot, key="unknown_command", text="Nope: {command}")


CHANGES: dict[str, tuple[Callable[[Bot], None], str, Callable[[str], bool]]] = {
    "a command added": (_add_command, "!hello", lambda reply: reply == "Hi there"),
    "its action switched off": (_disable_ping, "!ping", lambda reply: reply != "pong"),
    "its command deleted": (_delete_ping, "!ping", lambda reply: reply != "pong"),
    "the bot's prefix changed with update_fields": (
        _rename_prefix,
        "/ping",
        lambda reply: reply == "pong",
    ),
    "a response template written": (
        _template_for_unknown,
        "!dance",
        lambda reply: reply == "Nope: !dance",
    ),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_configuration_change_counts_at_the_next_message(demo_bot, change):
    edit, text, expected = CHANGES[change]
    before = _reply(text)  # built and cached with the old configuration
    assert not expected(before), f"the reply to {text!r} did not depend on the change"

    edit(demo_bot)

    after = _reply(text)
    assert expected(after), after


def test_a_custom_command_set_from_the_chat_counts_at_the_next_message(demo_bot):
    assert "don't know" in _reply("!greet")
    Participant.objects.filter(external_id="visitor:ada").update(trust_level=TrustLevel.TRUSTED)

    receipt = message_receive(inbound=inbound_message("!set-command greet Hi, you!"))
    [run] = ActionRun.objects.filter(message_id=receipt.message.id)
    action_run_execute(run_id=run.pk)  # what the worker does

    assert _reply("!greet") == "Hi, you!"


def test_a_snapshot_is_rebuilt_when_a_custom_command_in_it_expires(demo_bot):
    MemoryEntry.objects.create(
        bot=demo_bot,
        key="command:soon",
        value={"text": "still here"},
        expires_at=timezone.now() + timedelta(seconds=1),
    )
    bot = Bot.objects.get(pk=demo_bot.pk)
    assert bot_snapshot_get(bot=bot).custom_commands == {"soon": "still here"}

    time.sleep(1.1)

    assert bot_snapshot_get(bot=bot).custom_commands == {}


def test_each_bot_keeps_its_own_snapshot(demo_bot):
    other = Bot.objects.create(slug="other", name="Other")
    snapshot = bot_snapshot_get(bot=Bot.objects.get(pk=demo_bot.pk))
    assert bot_snapshot_get(bot=other).commands == {}
    assert bot_snapshot_get(bot=Bot.objects.get(pk=demo_bot.pk)) is snapshot


def test_last_seen_is_written_at_most_once_a_minute(demo_bot, django_assert_num_queries):
    message_receive(inbound=inbound_message("!ping"))
    participant = Participant.objects.get(external_id="visitor:ada")
    seen = participant.last_seen_at

    message_receive(inbound=inbound_message("!ping"))
    assert Participant.objects.get(pk=participant.pk).last_seen_at == seen

    Participant.objects.filter(pk=participant.pk).update(
        last_seen_at=timezone.now() - timedelta(minutes=2)
    )
    message_receive(inbound=inbound_message("!ping"))
    assert Participant.objects.get(pk=participant.pk).last_seen_at > seen


def test_a_custom_command_deleted_in_the_admin_is_gone_at_the_next_message(demo_bot, admin_client):
    entry = MemoryEntry.objects.create(bot=demo_bot, key="command:greet", value={"text": "Hi!"})
    assert _reply("!greet") == "Hi!"

    response = admin_client.post(
        f"/admin/conversations/memoryentry/{entry.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    assert "don't know" in _reply("!greet")
