from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from webhooks import services
from webhooks.exceptions import WebhookUrlRefused
from webhooks.models import WebhookEndpoint
from webhooks.services import Result

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _short_timeout(settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5


@pytest.fixture
def endpoint(receiver):
    endpoint, secret = services.webhook_endpoint_create(
        url=receiver.url, owner_email="ops@example.com"
    )
    receiver.secret = secret
    return endpoint


def send(endpoint, message_id="msg_1"):
    return services.webhook_send(
        endpoint=endpoint, message_id=message_id, event_type="post.published", data={"a": 1}
    )


def test_a_webhook_is_signed_as_the_standard_says_and_verified_by_its_library(endpoint, receiver):
    outcome = send(endpoint)

    assert outcome == services.Outcome(Result.DELIVERED, status=204)
    assert receiver.processed == {"msg_1": 1}
    assert receiver.bad_signatures == 0
    body = receiver.bodies["msg_1"]
    assert body["type"] == "post.published"
    assert body["data"] == {"a": 1}
    headers = receiver.requests[0]
    assert abs(int(headers["webhook-timestamp"]) - timezone.now().timestamp()) < 5


def test_the_secret_is_shown_once_at_creation_and_never_stored_elsewhere(endpoint, receiver):
    assert receiver.secret.startswith("whsec_")
    assert Webhook(receiver.secret)  # a valid standard secret
    assert receiver.secret not in str(endpoint)


def test_a_rotated_secret_signs_from_then_on_and_the_old_one_no_longer_verifies(endpoint, receiver):
    old = receiver.secret
    receiver.secret = services.webhook_endpoint_secret_rotate(endpoint=endpoint)
    assert receiver.secret != old

    send(endpoint, "msg_2")
    receiver.secret = old
    send(endpoint, "msg_3")

    assert receiver.processed == {"msg_2": 1}
    assert receiver.bad_signatures == 1


@pytest.mark.parametrize(
    ("status", "headers", "result", "retry_after"),
    [
        (200, {}, Result.DELIVERED, None),
        (500, {}, Result.RETRY, None),
        (503, {"Retry-After": "120"}, Result.RETRY, 120.0),
        (429, {"Retry-After": "7"}, Result.RETRY, 7.0),
        (410, {}, Result.GONE, None),
        (400, {}, Result.FAILED, None),
        (404, {}, Result.FAILED, None),
        (301, {"Location": "http://10.0.0.1/"}, Result.FAILED, None),
    ],
)
def test_each_answer_is_classified(endpoint, receiver, status, headers, result, retry_after):
    receiver.script = [(status, headers, 0)]

    outcome = send(endpoint)

    assert (outcome.result, outcome.status, outcome.retry_after_seconds) == (
        result,
        status,
        retry_after,
    )
    assert len(receiver.requests) == 1  # a redirect is never followed


def test_a_slow_receiver_is_a_retry_after_the_timeout(endpoint, receiver):
    receiver.script = [(204, {}, 2)]

    outcome = send(endpoint)

    assert outcome.result == Result.RETRY
    assert "too long" in outcome.error


def test_retry_after_as_an_http_date_is_honoured():
    moment = timezone.now() + timedelta(seconds=90)
    seconds = services.retry_after_parse(moment.strftime("%a, %d %b %Y %H:%M:%S GMT"))

    assert 85 <= seconds <= 91


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://localhost./",
        "file:///etc/passwd",
        "ftp://example.com/",
    ],
)
def test_internal_urls_are_refused_at_registration_and_nothing_is_saved(url):
    with pytest.raises(WebhookUrlRefused):
        services.webhook_endpoint_create(url=url)

    assert not WebhookEndpoint.objects.exists()


def test_an_internal_url_is_refused_again_at_connect_time(endpoint, receiver, settings):
    settings.HTTP_ALLOWED_HOSTS = []  # as if the name had started resolving to 127.0.0.1

    outcome = send(endpoint)

    assert outcome.result == Result.FAILED
    assert "not allowed" in outcome.error
    assert receiver.requests == []


def test_410_disables_the_endpoint_and_tells_the_owner_once(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.script = [(410, {}, 0)]
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_outcome_record(endpoint_id=endpoint.pk, outcome=send(endpoint))
        endpoint.refresh_from_db()
        services.webhook_outcome_record(endpoint_id=endpoint.pk, outcome=send(endpoint))

    endpoint.refresh_from_db()
    assert (endpoint.is_enabled, endpoint.disabled_reason) == (False, "gone")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com"]
    assert endpoint.url in mail.outbox[0].body
    assert len(receiver.requests) == 1  # a disabled endpoint is not called


def test_a_long_run_of_failures_disables_but_a_short_or_recent_one_does_not(
    endpoint, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    settings.WEBHOOK_DISABLE_AFTER_SECONDS = 3600
    failure = services.Outcome(Result.RETRY, status=500, error="The receiver answered 500.")
    for _ in range(5):
        services.webhook_outcome_record(endpoint_id=endpoint.pk, outcome=failure)
    endpoint.refresh_from_db()
    assert (endpoint.is_enabled, endpoint.failure_streak) == (True, 5)  # many, but recent

    services.webhook_outcome_record(
        endpoint_id=endpoint.pk, outcome=services.Outcome(Result.DELIVERED, status=200)
    )
    endpoint.refresh_from_db()
    assert (endpoint.failure_streak, endpoint.first_failure_at) == (0, None)

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failure_streak=2, first_failure_at=timezone.now() - timedelta(hours=2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_outcome_record(endpoint_id=endpoint.pk, outcome=failure)
    endpoint.refresh_from_db()
    assert (endpoint.is_enabled, endpoint.disabled_reason) == (False, "failing")
    assert "500" in mail.outbox[0].body

    services.webhook_endpoint_enable(endpoint=endpoint)
    assert (endpoint.is_enabled, endpoint.failure_streak, endpoint.disabled_reason) == (True, 0, "")


def test_backoff_doubles_with_jitter_up_to_the_cap_and_honours_retry_after(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    settings.WEBHOOK_RETRY_MAX_SECONDS = 3600
    first = [services.webhook_retry_seconds(attempts=1) for _ in range(50)]
    fifth = [services.webhook_retry_seconds(attempts=5) for _ in range(50)]
    late = [services.webhook_retry_seconds(attempts=30) for _ in range(50)]

    assert all(5 <= s <= 10 for s in first)
    assert all(80 <= s <= 160 for s in fifth)
    assert all(1800 <= s <= 3600 for s in late)
    assert len(set(fifth)) > 1  # jittered
    assert services.webhook_retry_seconds(attempts=1, retry_after=42) == 42
    assert services.webhook_retry_seconds(attempts=1, retry_after=10**6) == 3600
