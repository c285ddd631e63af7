from botsite.exceptions import BotsiteError


class WebhookError(BotsiteError):
    code = "webhook_error"


class WebhookUrlRefused(WebhookError):
    """The URL may not receive webhooks (a private address, another scheme, no such host)."""

    code = "webhook_url_refused"
