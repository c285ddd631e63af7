from botsite.exceptions import BotsiteError


class PublishingError(BotsiteError):
    code = "publishing_error"


class PublisherFetchFailed(PublishingError):
    """Raised by a publisher type's `fetch`: the source could not be read this time.

    `detail` is shown to staff as the publisher's last error; the next run tries again.
    """

    code = "publisher_fetch_failed"


class SubscriptionInvalid(PublishingError):
    """A subscription was refused; `fields` says which value was wrong and why."""

    code = "subscription_invalid"

    def __init__(self, detail: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.fields = fields or {}


class DeliveryRetry(Exception):
    """Send again after `countdown` seconds (a retryable failure, or throttled)."""

    def __init__(self, countdown: float) -> None:
        super().__init__(countdown)
        self.countdown = countdown
