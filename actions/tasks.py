"""Thin Celery tasks: each wraps the service of the same name and owns its retry policy."""

from celery import Task, shared_task
from django.db import OperationalError

from actions import services


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_kwargs={"max_retries": services.MAX_ATTEMPTS},
    # The run's own attempts (at most MAX_ATTEMPTS) bound its retries; a retry for a task
    # that came early is one more, which a task limit would count against the run.
    max_retries=None,
)
def action_run_execute(self: Task, run_id: int) -> None:
    try:
        services.action_run_execute(run_id=run_id, task_id=self.request.id or "")
    except services.ActionRunRetry as retry:
        raise self.retry(countdown=retry.countdown) from retry


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=services.MAX_ATTEMPTS,
)
def action_runs_execute(self: Task, run_ids: list[int]) -> None:
    services.action_runs_execute(run_ids=run_ids, task_id=self.request.id or "")


@shared_task
def action_runs_sweep() -> int:
    # Unanswered questions expire on the same beat: both are "work left behind".
    services.pending_actions_purge()
    return services.action_runs_sweep()
