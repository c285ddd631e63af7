"""The state-changing built-ins, driven as participants use them: a message in, replies out."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from actions.models import Action, ActionRun, Command, PendingAction
from actions.services import ActionRunRetry, action_run_execute, action_runs_sweep
from actions.services import pending_actions_purge as action_pending_purge
from chat.messages import message_receive
from conversations import services
from conversations.memory import MemoryScope, memory_recall, memory_remember
from conversations.models import MemoryEntry, Message, Participant, Room
from engine.messages import InboundMessage, TrustLevel
from publishers.models import Subscription

pytestmark = pytest.mark.django_db


def say(text: str, *, who: str = "ada", room: str = "lobby", work: bool = True) -> list[str]:
    """Send a message to the demo bot in a group room; return every reply it caused now
    (with `work`, as a worker would: running the calls that are due)."""
    receipt = message_receive(
        inbound=InboundMessage(
            bot_slug="demo",
            connector="webchat",
            room_external_id=room,
            participant_external_id=f"visitor:{who}",
            participant_name=who.title(),
            text=text,
        )
    )
    replies = [reply.text for reply in receipt.replies]
    due = ActionRun.objects.filter(message_id=receipt.message.id, run_after__lte=timezone.now())
    for run in due.order_by("id") if work else []:
        replies += [message.text for message in action_run_execute(run_id=run.pk)]
    return replies


def trust(who: str, level: TrustLevel) -> None:
    say("hello", who=who)  # makes sure the participant exists
    Participant.objects.filter(external_id=f"visitor:{who}").update(trust_level=level)


@pytest.fixture(autouse=True)
def demo(demo_bot):
    return demo_bot


def test_notes_are_remembered_per_participant_and_forgotten_on_request():
    assert say("!remember wifi the code is 1234") == ["OK, I'll remember wifi."]
    assert say("!recall WiFi") == ["WiFi: the code is 1234"]
    assert say("!recall wifi", who="bob") == ["I don't remember anything about wifi."]

    assert say("!forget wifi") == ["Forgotten: wifi."]
    assert say("!recall wifi") == ["I don't remember anything about wifi."]
    assert say("!forget wifi") == ["I had nothing about wifi."]


def test_custom_commands_need_trust_then_answer_everyone_at_once():
    assert say("!set-command hello Hi there!") == [
        "Sorry, !set-command needs more trust than you have here."
    ]
    trust("ada", TrustLevel.TRUSTED)

    assert say("!set-command hello Hi there!") == ["!hello now answers: Hi there!"]
    receipt_replies = say("!hello", who="bob")
    assert receipt_replies == ["Hi there!"]
    assert not ActionRun.objects.filter(action_name="hello").exists(), "answered inline"

    assert say("!set-command help no") == ["Sorry, !help is one of the bot's own commands."]
    assert say("!unset-command hello") == ["!hello is gone."]
    assert say("!hello", who="bob") == ["I don't know !hello. Try !help."]


def test_the_room_mood_changes_which_templates_answer():
    trust("ada", TrustLevel.MEMBER)

    assert say("hey bot, blah") == ["Ooh, I didn't catch that! Try !help 🙂"]
    assert say("!mood grumpy") == ["Mood set to grumpy."]
    assert say("hey bot, blah") == ["What? Type !help, Ada."]
    assert say("!mood sleepy") == ["Sorry, I only do these moods: cheerful, grumpy, neutral."]
    assert Room.objects.get(external_id="lobby").mood == "grumpy"
    assert say("hey bot, blah", room="elsewhere") == ["Ooh, I didn't catch that! Try !help 🙂"]


def test_trusted_participants_ignore_and_unignore_others():
    trust("ada", TrustLevel.TRUSTED)
    say("hi", who="troll")

    assert say("!ignore Troll") == ["Ignoring Troll."]
    assert say("hey bot, hello?", who="troll") == []
    assert say("!unignore troll") == ["Listening to Troll again."]
    assert say("hey bot, hello?", who="troll") != []
    assert say("!ignore nobody") == ["Sorry, I don't know anyone called nobody here."]


def test_nobody_changes_someone_trusted_as_much_as_themselves():
    trust("ada", TrustLevel.TRUSTED)
    trust("grace", TrustLevel.TRUSTED)

    assert say("!ignore grace") == [
        "Sorry, you cannot change Grace: they are trusted as much as you."
    ]
    assert say("!trust bob trusted") == ["Sorry, you can only give trust below your own."]
    say("hi", who="bob")
    assert say("!trust bob member") == ["Bob is now member."]
    assert Participant.objects.get(external_id="visitor:bob").trust_level == TrustLevel.MEMBER


def test_the_newest_unexpired_memory_entry_wins_and_expired_ones_are_purged(demo):
    scope = MemoryScope(demo.pk)
    memory_remember(scope=scope, key="k", value="old")
    memory_remember(scope=scope, key="k", value="new")
    assert memory_recall(scope=scope, key="k") == "new"

    MemoryEntry.objects.filter(value="new").update(expires_at=timezone.now() - timedelta(1))
    assert memory_recall(scope=MemoryScope(demo.pk), key="k") == "new", "read from the cache"
    memory_remember(scope=scope, key="other", value=1)  # unrelated writes leave k cached
    memory_remember(scope=scope, key="k", value="newest", ttl_seconds=-1)

    assert memory_recall(scope=scope, key="k") == "old", "expired entries do not count"
    assert services.memory_entries_purge() == 2
    assert list(MemoryEntry.objects.filter(key="k").values_list("value", flat=True)) == ["old"]


def test_a_left_out_argument_starts_a_conversation_that_survives_across_processes():
    assert say("!remember") == ["What should I call it?"]
    assert PendingAction.objects.get().missing_argument == "key"
    assert say("wifi") == ["What should I remember?"]
    assert say("the code is 1234") == ["OK, I'll remember wifi."]
    assert not PendingAction.objects.exists()
    assert say("!recall wifi") == ["wifi: the code is 1234"]


def test_questions_are_per_participant_and_expire(demo):
    assert say("!remember") == ["What should I call it?"]
    assert say("hey bot, blah", who="bob") == ["Ooh, I didn't catch that! Try !help 🙂"]

    PendingAction.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert say("hey bot, blah") == ["Ooh, I didn't catch that! Try !help 🙂"]
    assert say("!remember") == ["What should I call it?"], "a new question replaces the stale one"
    PendingAction.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert action_pending_purge() == 1


def test_a_command_during_a_question_runs_and_is_not_stored_as_the_answer():
    assert say("!remember") == ["What should I call it?"]

    replies = say("!help")

    assert replies[0] == "OK, I won't wait for your answer to “What should I call it?” any more."
    assert replies[1].startswith("Demo bot understands these commands:")
    assert not PendingAction.objects.exists()
    assert not MemoryEntry.objects.filter(key__startswith="note:").exists()
    assert say("wifi") == [], "free text in a group room is no answer any more"


def test_an_optional_argument_with_a_staff_prompt_is_asked_for(demo):
    action = Action.objects.create(
        bot=demo,
        name="weather",
        kind="template_reply",
        config={"template": "weather", "text": "Sunny in {text}."},
        prompts={"text": "Which city?"},
    )
    Command.objects.create(bot=demo, word="weather", action=action)

    assert say("!weather") == ["Which city?"]
    assert say("Oslo.") == ["Sunny in Oslo."]
    assert say("!weather Bergen") == ["Sunny in Bergen."]


def test_cancel_ends_the_question():
    assert say("!recall") == ["What did I remember it as?"]

    assert say("never mind") == ["OK, cancelled."]
    assert not PendingAction.objects.exists()


def test_reminders_are_scheduled_listed_cancelled_and_said_when_due():
    assert say("hey bot, remind me to stretch in 20 minutes") == ["OK, in 20 minutes."]
    assert say("hey bot remind me to drink water in 2 hours") == ["OK, in 2 hours."]

    listing = say("!reminders")[0].splitlines()
    assert listing[0].startswith("1. stretch — in 19 minutes")
    assert listing[1].startswith("2. drink water — in 1 hour 59 minutes")
    assert say("!reminders", who="bob") == ["You have nothing scheduled here."]

    assert say("!cancel-reminder 2") == ["Cancelled: drink water."]
    assert say("!cancel-reminder 5") == ["Sorry, there is no reminder 5; you have 1."]

    stretch = ActionRun.objects.get(action_name="remind", status=ActionRun.Status.PENDING)
    ActionRun.objects.filter(pk=stretch.pk).update(run_after=timezone.now())
    [reminder] = action_run_execute(run_id=stretch.pk)
    assert reminder.text == "⏰ Ada, you asked me to remind you: stretch"


def test_far_off_runs_wait_for_the_sweeper_and_near_ones_get_an_eta(
    django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks(execute=True):
        say("!remind soon in 5 minutes")
        say("!remind later in 3 hours")

    soon = ActionRun.objects.get(arguments__text="soon")
    later = ActionRun.objects.get(arguments__text="later")
    assert soon.enqueued_at is not None
    assert later.enqueued_at is None
    assert ActionRun.objects.filter(run_after__gt=timezone.now() + timedelta(hours=2)).count() == 1

    assert action_runs_sweep() == 0, "nothing is due yet"
    ActionRun.objects.filter(pk=later.pk).update(run_after=timezone.now())
    assert action_runs_sweep() == 1


def test_runs_of_a_room_wait_for_the_earlier_ones_and_get_their_turn_when_those_finish(
    published_tasks,
):
    say("!latest-post", work=False)
    say("!latest-post 2", work=False)
    first, second = ActionRun.objects.order_by("id")
    published_tasks.clear()

    assert action_run_execute(run_id=second.pk) == [], "its task returns, with no retry"
    second.refresh_from_db()
    assert (second.status, second.attempts) == (ActionRun.Status.PENDING, 0)
    assert published_tasks == []

    # The task that finishes the first run goes on with the room's next one.
    [answer] = action_run_execute(run_id=first.pk)
    assert answer.text.count("•") == 1
    second.refresh_from_db()
    assert second.status == ActionRun.Status.SUCCEEDED
    [stored] = Message.objects.filter(reply_to=second.message, sender_kind="bot")
    assert stored.text.count("•") == 2


def test_a_run_whose_turn_comes_past_the_tasks_limit_is_enqueued_at_once(settings, published_tasks):
    settings.ACTION_RUN_CLAIM_MAX = 1
    say("!latest-post", work=False)
    say("!latest-post 2", work=False)
    first, second = ActionRun.objects.order_by("id")
    action_run_execute(run_id=second.pk)  # not its turn: its task is gone
    published_tasks.clear()

    action_run_execute(run_id=first.pk)

    second.refresh_from_db()
    assert second.status == ActionRun.Status.PENDING
    assert [(task.name, task.args, task.eta) for task in published_tasks] == [
        ("actions.tasks.action_runs_execute", ([second.pk],), None)
    ]


def test_a_task_that_arrives_before_its_time_waits():
    say("!remind stretch in 10 minutes")
    run = ActionRun.objects.get()

    with pytest.raises(ActionRunRetry) as early:
        action_run_execute(run_id=run.pk)

    assert 590 < early.value.countdown <= 600
    run.refresh_from_db()
    assert (run.status, run.attempts) == (ActionRun.Status.PENDING, 0)


def test_a_room_subscribes_to_a_publisher_lists_and_unsubscribes_in_one_step():
    assert say("!subscribe news golang") == [
        "Subscribed: new news posts about golang will appear here."
    ]
    assert say("!subscribe News GoLang") == ["This room already gets news posts about golang."]
    assert say("!subscribe weather") == ["Sorry, there is no publisher 'weather'; there are: news."]
    assert say("!subscriptions") == ["This room follows:\n• news (about golang)\nPublishers: news."]
    subscription = Subscription.objects.get()
    assert (subscription.destination, subscription.room.external_id) == ("room", "lobby")
    assert subscription.participant.external_id == "visitor:ada"

    assert say("!unsubscribe news") == ["Unsubscribed from news."]
    assert say("!subscriptions") == ["This room follows no publisher.\nPublishers: news."]
    assert say("!subscribe news golang") == [
        "Subscribed: new news posts about golang will appear here."
    ]
    assert Subscription.objects.count() == 1, "resubscribing reuses the row"


def at_a_window_start(window_ms: int = 2000) -> None:
    """Windows are aligned to the clock: two messages sent near the end of one fall into
    two. Wait until just after a window begins, so the test's messages share one."""
    window = window_ms / 1000
    time.sleep(window - time.time() % window + 0.05)


def batch_run(room: str = "lobby") -> list[str]:
    """The batching window ends: the worker runs the room's batch."""
    ActionRun.objects.filter(room__external_id=room).update(run_after=timezone.now())
    first = ActionRun.objects.filter(room__external_id=room).order_by("id").first()
    return [message.text for message in action_run_execute(run_id=first.pk)]


def test_in_a_batching_window_the_same_call_from_two_people_gets_one_reply_to_both(demo):
    Room.objects.create(bot=demo, connector="webchat", external_id="lobby", batch_window_ms=2000)

    at_a_window_start()
    assert say("!ping") == []
    assert say("!ping", who="bob") == []
    assert ActionRun.objects.filter(batch_until__isnull=False).count() == 2

    assert batch_run() == ["Ada, Bob: pong"]
    assert set(ActionRun.objects.values_list("status", flat=True)) == {"succeeded"}
    assert Message.objects.filter(sender_kind="bot").count() == 1


def test_different_calls_in_one_window_get_one_combined_reply(demo):
    demo.batch_window_ms = 2000
    demo.save()

    at_a_window_start()
    say("!ping")
    say("!latest-post", who="bob")

    assert batch_run() == ["pong\n\n• Schedules that survive restarts"]


def test_a_room_may_turn_the_bots_window_off(demo):
    demo.batch_window_ms = 2000
    demo.save()
    Room.objects.create(bot=demo, connector="webchat", external_id="lobby", batch_window_ms=0)

    assert say("!ping") == ["pong"]


def test_a_stray_task_for_a_far_off_run_is_left_to_the_sweeper():
    say("!remind stretch in 3 hours")
    run = ActionRun.objects.get()

    assert action_run_execute(run_id=run.pk) == []

    run.refresh_from_db()
    assert (run.status, run.attempts) == (ActionRun.Status.PENDING, 0)
