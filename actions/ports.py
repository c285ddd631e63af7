"""The ports of the actions app that a worker hands to actions."""

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from actions.base import ScheduledView
from actions.exceptions import ActionFailed
from actions.models import ActionRun
from botsite import http


class ScheduleFromDatabase:
    def __init__(self, *, room_id: int, participant_id: int | None) -> None:
        self.room_id = room_id
        self.participant_id = participant_id

    def _waiting(self) -> QuerySet[ActionRun]:
        runs = ActionRun.objects.filter(
            room_id=self.room_id, status=ActionRun.Status.PENDING, run_after__gt=timezone.now()
        )
        if self.participant_id is None:
            return runs.filter(participant__isnull=True)
        return runs.filter(participant_id=self.participant_id)

    def upcoming(self) -> list[ScheduledView]:
        now = timezone.now()
        return [
            ScheduledView(
                id=run.pk,
                action=run.action_name,
                arguments=run.arguments,
                due_in_seconds=max(0, int((run.run_after - now).total_seconds())),
            )
            for run in self._waiting().order_by("run_after", "id")[:20]
        ]

    def cancel(self, run_id: int) -> bool:
        return bool(
            self._waiting()
            .filter(pk=run_id)
            .update(status=ActionRun.Status.CANCELLED, finished_at=timezone.now())
        )


class HttpThroughBotsite:
    """`HttpPort` over `botsite.http`: its refusals are final, its failures retryable."""

    def json_get(self, url: str) -> Any:
        try:
            return http.json_get(url)
        except http.OutboundError as error:
            raise ActionFailed(str(error), retryable=error.is_transient) from error
