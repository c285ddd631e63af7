from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from actions import services
from actions.base import ActionType
from actions.exceptions import ActionFailed
from actions.models import Action, ActionRun
from actions.registry import action_types
from actions.services import claims, execution
from actions.tests.factories import ActionFactory, ActionRunFactory
from conversations.models import Message
from engine.messages import ActionCall, Response
from engine.snapshots import ActionSnapshot

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


def _call(action: Action, *, delay_seconds: int = 0) -> ActionCall:
    return ActionCall(
        action=ActionSnapshot(
            id=action.pk, name=action.name, kind="say", config=action.config, min_trust=0
        ),
        arguments={},
        source="test",
        delay_seconds=delay_seconds,
    )


def test_runs_due_now_go_to_the_broker_together_only_on_commit(
    django_capture_on_commit_callbacks, published_tasks
):
    action = ActionFactory()
    run = ActionRunFactory(action=action)
    calls = [_call(action), _call(action), _call(action, delay_seconds=60)]
    built = services.action_runs_build(
        bot=action.bot, room=run.room, participant=None, message=run.message, calls=calls
    )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.action_runs_store(built)
        assert published_tasks == [], "nothing reaches the broker before the commit"

    assert len(callbacks) == 1
    now, later = built[:2], built[2]
    assert [(task.name, task.args) for task in published_tasks] == [
        ("actions.tasks.action_runs_execute", ([run.pk for run in now],)),
        ("actions.tasks.action_run_execute", (later.pk,)),
    ]
    assert published_tasks[1].eta is not None
    for each in built:
        each.refresh_from_db()
        assert (each.status, each.enqueued_at is not None) == (ActionRun.Status.PENDING, True)


def test_runs_due_now_are_sent_in_tasks_of_at_most_the_claim_size(settings, published_tasks):
    settings.ACTION_RUN_CLAIM_MAX = 2
    runs = [ActionRunFactory() for _ in range(5)]
    in_window = ActionRunFactory(batch_until=timezone.now())

    services.action_runs_enqueue(runs=[*runs, in_window])

    assert [(task.name, task.args) for task in published_tasks] == [
        ("actions.tasks.action_runs_execute", ([runs[0].pk, runs[1].pk],)),
        ("actions.tasks.action_runs_execute", ([runs[2].pk, runs[3].pk],)),
        ("actions.tasks.action_runs_execute", ([runs[4].pk],)),
        # The first task of a batching window runs the whole batch: each goes alone.
        ("actions.tasks.action_run_execute", (in_window.pk,)),
    ]
    assert ActionRun.objects.filter(enqueued_at__isnull=True).count() == 0


def test_runs_sent_together_are_run_together_and_stored_once(published_tasks):
    runs = [_waiting_run(f"answer {n}") for n in range(3)]

    answered = services.action_runs_execute(run_ids=[run.pk for run in runs])

    assert {run_id: [m.text for m in replies] for run_id, replies in answered.items()} == {
        run.pk: [f"answer {n}"] for n, run in enumerate(runs)
    }
    for n, run in enumerate(runs):
        run.refresh_from_db()
        assert (run.status, run.attempts) == (ActionRun.Status.SUCCEEDED, 1)
        assert bot_replies(run) == [f"answer {n}"]
    assert services.action_runs_execute(run_ids=[run.pk for run in runs]) == {}
    assert all(len(bot_replies(run)) == 1 for run in runs), "a redelivered task adds nothing"
    assert published_tasks == []


def test_a_run_sent_together_that_must_wait_its_turn_has_it_passed_on_with_no_task_of_its_own(
    published_tasks,
):
    first = _waiting_run("first")
    second = _waiting_run("second", message__room=first.room)
    earlier_elsewhere = _waiting_run("earlier", status=ActionRun.Status.RUNNING, attempts=1)
    behind_it = _waiting_run("behind", message__room=earlier_elsewhere.room)
    done = _waiting_run("done", status=ActionRun.Status.SUCCEEDED, attempts=1)

    answered = services.action_runs_execute(run_ids=[first.pk, second.pk, behind_it.pk, done.pk])

    # The first run's room passes its turn to the second at once, in the same task.
    assert list(answered) == [first.pk, second.pk]
    assert [m.text for m in answered[second.pk]] == ["second"]
    behind_it.refresh_from_db()
    assert (behind_it.status, behind_it.attempts) == (ActionRun.Status.PENDING, 0)
    assert published_tasks == [], "the earlier run elsewhere passes its room's turn on"


def test_runs_sent_together_also_take_waiting_runs_along_up_to_the_claim_size(settings):
    settings.ACTION_RUN_CLAIM_MAX = 3
    own = [_waiting_run(f"own {n}") for n in range(2)]
    waiting = [_waiting_run(f"waiting {n}") for n in range(2)]

    answered = services.action_runs_execute(run_ids=[run.pk for run in own])

    assert list(answered) == [own[0].pk, own[1].pk, waiting[0].pk]
    assert ActionRun.objects.get(pk=waiting[1].pk).status == ActionRun.Status.PENDING


def test_a_task_delivered_again_after_its_worker_died_takes_back_its_runs_at_once():
    elsewhere = _waiting_run("elsewhere")
    services.action_runs_execute(run_ids=[elsewhere.pk], task_id="task-2")
    own, along = _waiting_run("own"), _waiting_run("along")
    # The first delivery of task-1 claimed its run and one waiting behind it, then its
    # worker process died: the rows stay running in its name.
    assert claims.waiting_runs_claim(limit=2, first=[own.pk], task_id="task-1")
    still_running = _waiting_run("still running", status=ActionRun.Status.RUNNING, attempts=1)
    ActionRun.objects.filter(pk=still_running.pk).update(claimed_by_task="task-3")

    answered = services.action_runs_execute(run_ids=[own.pk], task_id="task-1")

    assert {run_id: [m.text for m in replies] for run_id, replies in answered.items()} == {
        own.pk: ["own"],
        along.pk: ["along"],
    }
    for run in (own, along):
        run.refresh_from_db()
        assert (run.status, run.attempts, run.claimed_by_task) == ("succeeded", 2, "task-1")
        assert bot_replies(run) == [run.action.config["text"]]
    # Another task's runs are its own business until the sweeper's timeout.
    still_running.refresh_from_db()
    assert (still_running.status, still_running.attempts) == (ActionRun.Status.RUNNING, 1)
    assert ActionRun.objects.get(pk=elsewhere.pk).claimed_by_task == "task-2"


def test_a_single_run_task_delivered_again_takes_back_its_run():
    run = _waiting_run("Hi")
    claims.run_claim_if_its_turn(run.pk, "task-1")  # then the worker died

    assert services.action_run_execute(run_id=run.pk, task_id="task-2") == []
    assert [m.text for m in services.action_run_execute(run_id=run.pk, task_id="task-1")] == ["Hi"]
    run.refresh_from_db()
    assert (run.status, run.attempts) == (ActionRun.Status.SUCCEEDED, 2)


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


def _waiting_run(text: str, **fields) -> ActionRun:
    """A due run already handed to the broker, in a room of its own."""
    fields.setdefault("action__config", {"text": text})
    return ActionRunFactory(enqueued_at=timezone.now(), **fields)


def test_a_task_also_runs_due_runs_waiting_behind_it_and_their_tasks_find_them_done():
    first, second, third = (_waiting_run(f"answer {n}") for n in range(3))

    answered = services.action_run_execute(run_id=first.pk)

    assert [message.text for message in answered] == ["answer 0"]
    for run, text in ((second, "answer 1"), (third, "answer 2")):
        run.refresh_from_db()
        assert (run.status, run.attempts) == (ActionRun.Status.SUCCEEDED, 1)
        assert bot_replies(run) == [text]
        assert Message.objects.get(pk=run.message_id).trace[-1]["result"] == "succeeded"
        assert services.action_run_execute(run_id=run.pk) == []  # its own task, later
        assert bot_replies(run) == [text]


def test_runs_that_are_not_a_workers_to_take_now_are_left_alone(settings):
    settings.ACTION_RUN_CLAIM_MAX = 10
    own = _waiting_run("own")
    not_due = _waiting_run("later", run_after=timezone.now() + timedelta(minutes=5))
    in_window = _waiting_run("window", batch_until=timezone.now())
    not_enqueued = ActionRunFactory(action__config={"text": "sweeper's"})
    running = _waiting_run("elsewhere", status=ActionRun.Status.RUNNING, attempts=1)

    services.action_run_execute(run_id=own.pk)

    for run in (not_due, in_window, not_enqueued):
        run.refresh_from_db()
        assert (run.status, run.attempts) == (ActionRun.Status.PENDING, 0), run.action_name
    running.refresh_from_db()
    assert running.attempts == 1


def test_a_task_takes_at_most_the_configured_number_of_runs(settings):
    settings.ACTION_RUN_CLAIM_MAX = 3
    own, *waiting = (_waiting_run(f"answer {n}") for n in range(5))

    services.action_run_execute(run_id=own.pk)

    statuses = [ActionRun.objects.get(pk=run.pk).status for run in waiting]
    assert statuses == ["succeeded", "succeeded", "pending", "pending"]  # oldest first


def test_a_waiting_runs_retryable_failure_sends_it_back_to_the_broker_alone(flaky):
    own = _waiting_run("fine")
    busy = _waiting_run("busy", action__kind="flaky", action__config={"mode": "retry"})

    answered = services.action_run_execute(run_id=own.pk)

    busy.refresh_from_db()
    assert [message.text for message in answered] == ["fine"]
    assert (busy.status, busy.attempts) == (ActionRun.Status.PENDING, 1)
    assert busy.last_error == "the weather service is busy"
    assert busy.run_after > busy.enqueued_at - timedelta(seconds=1)
    assert bot_replies(busy) == []


def test_runs_taken_together_share_the_claim_the_load_and_one_transaction(settings):
    action = ActionFactory(config={"text": "Hi"})
    warm, alone, own, *waiting = (
        _waiting_run("", action=action, message__room__bot=action.bot) for _ in range(10)
    )
    settings.ACTION_RUN_CLAIM_MAX = 1
    services.action_run_execute(run_id=warm.pk)  # the bot's snapshot is built
    with CaptureQueriesContext(connection) as one:
        services.action_run_execute(run_id=alone.pk)
    settings.ACTION_RUN_CLAIM_MAX = 8
    with CaptureQueriesContext(connection) as eight:
        services.action_run_execute(run_id=own.pk)

    assert all(ActionRun.objects.get(pk=run.pk).status == "succeeded" for run in waiting)
    # Each run taken along adds its status update and its trace step; claiming and loading
    # them adds five statements in all (select, update and load, in a transaction of their
    # own); the replies' insert, the busy check and the storing transaction are shared.
    assert len(eight) <= len(one) + 5 + 7 * 2


def test_a_task_takes_its_own_runs_before_older_waiting_ones(settings):
    settings.ACTION_RUN_CLAIM_MAX = 2
    older = [_waiting_run(f"older {n}") for n in range(2)]
    own = [_waiting_run(f"own {n}") for n in range(2)]

    answered = services.action_runs_execute(run_ids=[run.pk for run in own])

    assert list(answered) == [own[0].pk, own[1].pk]
    assert {ActionRun.objects.get(pk=run.pk).status for run in older} == {"pending"}


def test_a_run_that_fails_retryably_passes_its_rooms_turn_to_the_next_one(flaky, monkeypatch):
    monkeypatch.setattr(execution, "_backoff_seconds", lambda attempts: 60)  # no jitter near 0
    failing = _waiting_run("busy", action__kind="flaky", action__config={"mode": "retry"})
    behind = _waiting_run("next", message__room=failing.room)
    services.action_run_execute(run_id=behind.pk)  # not its turn: its task returns

    with pytest.raises(services.ActionRunRetry):
        services.action_run_execute(run_id=failing.pk)

    behind.refresh_from_db()
    assert behind.status == ActionRun.Status.SUCCEEDED
    assert bot_replies(behind) == ["next"]
