from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from actions import liveness, services
from actions.models import ActionRun, WorkerHeartbeat
from actions.tests.factories import ActionRunFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def beating_as(monkeypatch):
    """This test process claims runs as a beating worker process of the given name."""

    def beat(name: str) -> None:
        liveness.heartbeat_write(name)
        monkeypatch.setattr(liveness, "_process", name)

    return beat


def test_a_claim_carries_the_name_of_a_beating_process_and_of_none_other(beating_as):
    unnamed = ActionRunFactory(action__config={"text": "one"})
    services.action_run_execute(run_id=unnamed.pk)
    beating_as("host-a:41")
    named = ActionRunFactory(action__config={"text": "two"})
    services.action_run_execute(run_id=named.pk)

    assert ActionRun.objects.get(pk=unnamed.pk).claimed_by_process == ""
    assert ActionRun.objects.get(pk=named.pk).claimed_by_process == "host-a:41"


def test_the_sweeper_takes_back_at_once_the_runs_of_a_process_that_stopped_beating(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 10
    settings.ACTION_RUN_TIMEOUT_SECONDS = 3600
    now = timezone.now()
    WorkerHeartbeat.objects.create(process="dead:1", beat_at=now - timedelta(seconds=31))
    WorkerHeartbeat.objects.create(process="alive:2", beat_at=now - timedelta(seconds=5))

    def running(process: str, started_seconds_ago: int) -> ActionRun:
        return ActionRunFactory(
            status="running",
            attempts=1,
            claimed_by_process=process,
            started_at=now - timedelta(seconds=started_seconds_ago),
            enqueued_at=now - timedelta(seconds=started_seconds_ago + 1),
        )

    lost = running("dead:1", 40)
    never_beat = running("gone:3", 40)  # its rows were forgotten
    alive = running("alive:2", 40)
    unnamed = running("", 40)  # only the run timeout tells for these
    just_claimed = running("dead:1", 1)  # a beat may still come

    assert services.action_runs_sweep() == 2

    def state(run: ActionRun) -> tuple[str, bool]:
        run.refresh_from_db()
        return run.status, run.enqueued_at > now

    assert state(lost) == ("pending", True)  # enqueued anew in the same sweep
    assert state(never_beat) == ("pending", True)
    assert state(alive) == ("running", False)
    assert state(unnamed) == ("running", False)
    assert state(just_claimed) == ("running", False)
    assert lost.last_error == "worker process stopped sending heartbeats"


def test_the_rows_of_processes_long_gone_are_forgotten():
    now = timezone.now()
    WorkerHeartbeat.objects.create(process="old:1", beat_at=now - timedelta(days=2))
    WorkerHeartbeat.objects.create(process="recent:2", beat_at=now - timedelta(hours=1))

    services.action_runs_sweep()

    assert list(WorkerHeartbeat.objects.values_list("process", flat=True)) == ["recent:2"]


def test_staff_see_which_worker_processes_are_beating(admin_client, settings):
    settings.WORKER_HEARTBEAT_SECONDS = 10
    now = timezone.now()
    WorkerHeartbeat.objects.create(process="alive:1:aa", beat_at=now - timedelta(seconds=5))
    WorkerHeartbeat.objects.create(process="dead:2:bb", beat_at=now - timedelta(seconds=31))

    page = admin_client.get(reverse("admin:actions_workerheartbeat_changelist")).content.decode()

    alive, dead = page.index("alive:1:aa"), page.index("dead:2:bb")
    assert page.index('alt="True"', alive) < dead < page.index('alt="False"', dead)
