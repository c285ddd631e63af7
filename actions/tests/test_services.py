from datetime import timedelta

import pytest
from django.utils import timezone

from actions import services
from actions.base import ActionType
from actions.exceptions import ActionFailed
from actions.models import Action, ActionRun
from actions.registry import action_types
from actions.tests.factories import ActionFactory, ActionRunFactory
from conversations.engine.messages import ActionCall, ActionSnapshot, Response
from conversations.models import Message

pytestmark = pytest.mark.django_db


class FlakyAction(ActionType):
    """Fails the way its config says."""

    key = "flaky"
    label = "Flaky"

    def run(self, call, ctx):
        mode = self.config.get("mode")
        if mode == "retry":
            raise ActionFailed("the weather service is busy", retryable=True)
        if mode == "fail":
            raise ActionFailed("that city does not exist")
        raise RuntimeError("boom")


@pytest.fixture
def flaky():
    with action_types.override(FlakyAction):
        yield


def bot_replies(run: ActionRun) -> list[str]:
    return list(
        Message.objects.filter(reply_to=run.message, sender_kind="bot").values_list(
            "text", flat=True
        )
    )


def test_a_run_is_executed_once_and_its_replies_are_stored_and_returned():
    run = ActionRunFactory(action__config={"text": "Hi there"})

    first = services.action_run_execute(run_id=run.pk)
    second = services.action_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert [message.text for message in first] == ["Hi there"]
    assert second == []
    assert (run.status, run.attempts) == (ActionRun.Status.SUCCEEDED, 1)
    assert run.finished_at is not None
    assert bot_replies(run) == ["Hi there"]


def test_a_retryable_failure_puts_the_run_back_to_pending_with_a_later_due_time(flaky):
    run = ActionRunFactory(action__kind="flaky", action__config={"mode": "retry"})

    with pytest.raises(services.ActionRunRetry) as retry:
        services.action_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == ActionRun.Status.PENDING
    assert run.last_error == "the weather service is busy"
    assert 0 <= retry.value.countdown <= 2
    assert bot_replies(run) == []


def test_a_retryable_failure_gives_up_after_the_last_attempt(flaky):
    run = ActionRunFactory(
        action__kind="flaky",
        action__config={"mode": "retry"},
        attempts=services.MAX_ATTEMPTS - 1,
    )

    services.action_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == ActionRun.Status.FAILED
    assert bot_replies(run) == ["Sorry, the weather service is busy"]


@pytest.mark.parametrize(
    ("mode", "reply", "error"),
    [
        ("fail", "Sorry, that city does not exist", "that city does not exist"),
        ("crash", services.GENERIC_FAILURE, "RuntimeError: boom"),
    ],
)
def test_a_failing_action_fails_its_run_and_tells_the_user(flaky, mode, reply, error):
    run = ActionRunFactory(action__kind="flaky", action__config={"mode": mode})

    services.action_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.last_error) == (ActionRun.Status.FAILED, error)
    assert bot_replies(run) == [reply]


def test_a_run_whose_action_type_is_gone_fails_with_a_clear_reply():
    run = ActionRunFactory()
    Action.objects.filter(pk=run.action_id).update(kind="uninstalled")

    services.action_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == ActionRun.Status.FAILED
    assert bot_replies(run) == [f"Sorry, action {run.action_name!r} is no longer available."]


class TakenOverAction(ActionType):
    """Runs so long that the sweeper hands its run to a second attempt meanwhile."""

    key = "taken_over"
    label = "Taken over"
    nested = False

    def run(self, call, ctx):
        if not TakenOverAction.nested:
            TakenOverAction.nested = True
            run_id = int(call.source.removeprefix("run:"))
            ActionRun.objects.filter(pk=run_id).update(status="pending")  # the sweeper
            services.action_run_execute(run_id=run_id)  # the second attempt
            return [Response(text="from the first attempt")]
        return [Response(text="from the second attempt")]


def test_an_attempt_that_lost_its_run_to_the_sweeper_stores_nothing():
    run = ActionRunFactory(action__kind="taken_over", action__config={})

    with action_types.override(TakenOverAction):
        stale = services.action_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert stale == []
    assert (run.status, run.attempts) == (ActionRun.Status.SUCCEEDED, 2)
    assert bot_replies(run) == ["from the second attempt"]


def test_the_sweeper_re_enqueues_lost_runs_and_reclaims_timed_out_ones(settings):
    settings.ACTION_RUN_STUCK_SECONDS = 60
    settings.ACTION_RUN_TIMEOUT_SECONDS = 300
    long_ago = timezone.now() - timedelta(hours=1)
    never_enqueued = ActionRunFactory()
    lost = ActionRunFactory(enqueued_at=long_ago)
    fresh = ActionRunFactory(enqueued_at=timezone.now())
    dead_worker = ActionRunFactory(status="running", started_at=long_ago, attempts=1)
    busy = ActionRunFactory(status="running", started_at=timezone.now(), attempts=1)
    later = ActionRunFactory(run_after=timezone.now() + timedelta(minutes=5))

    assert services.action_runs_sweep() == 3

    enqueued = set(
        ActionRun.objects.filter(enqueued_at__gt=long_ago + timedelta(minutes=59)).values_list(
            "pk", flat=True
        )
    )
    assert {never_enqueued.pk, lost.pk, dead_worker.pk} <= enqueued
    assert later.pk not in enqueued
    dead_worker.refresh_from_db()
    busy.refresh_from_db()
    fresh.refresh_from_db()
    assert dead_worker.status == ActionRun.Status.PENDING
    assert busy.status == ActionRun.Status.RUNNING
    assert fresh.status == ActionRun.Status.PENDING


def test_runs_are_created_pending_and_enqueued_only_on_commit(django_capture_on_commit_callbacks):
    action = ActionFactory()
    run = ActionRunFactory(action=action)
    call = ActionCall(
        action=ActionSnapshot(
            id=action.pk, name=action.name, kind="say", config=action.config, min_trust=0
        ),
        arguments={},
        source="test",
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        [created] = services.action_runs_create(
            bot=action.bot, room=run.room, participant=None, message=run.message, calls=[call]
        )

    assert len(callbacks) == 1
    created.refresh_from_db()
    assert created.status == ActionRun.Status.PENDING
    assert created.enqueued_at is not None


def test_a_finished_run_adds_where_and_how_long_to_its_messages_trace():
    run = ActionRunFactory(action__config={"text": "Hi"})

    services.action_run_execute(run_id=run.pk)

    step = Message.objects.get(pk=run.message_id).trace[-1]
    assert {key: step[key] for key in ("stage", "action", "where", "result", "attempts")} == {
        "stage": "execute",
        "action": run.action_name,
        "where": "worker",
        "result": "succeeded",
        "attempts": 1,
    }
    assert step["ms"] >= 0
