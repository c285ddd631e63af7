import pytest

from publishers import deliveries, tasks


def sends_that_are_throttled(times: int):
    calls = []

    def send(**kwargs):
        calls.append(kwargs)
        if len(calls) <= times:
            raise deliveries.DeliveryRetry(countdown=0)

    return send, calls


@pytest.mark.parametrize(
    ("task", "service"),
    [(tasks.delivery_send, "delivery_send"), (tasks.post_deliveries_send, "post_deliveries_send")],
)
def test_a_send_throttled_more_often_than_five_times_is_still_retried(monkeypatch, task, service):
    # Throttling is not failure: the row counts the attempts, so Celery must not give up
    # after its own five (retry(max_retries=None) meant "the task's limit", which was 5).
    send, calls = sends_that_are_throttled(times=8)
    monkeypatch.setattr(deliveries, service, send)

    result = task.apply(args=(7,))

    assert result.successful(), result.traceback
    assert len(calls) == 9
