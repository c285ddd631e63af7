from botsite.exceptions import BotsiteError


class IntegrationError(BotsiteError):
    code = "integration_error"


class TokenScopeTooWide(IntegrationError):
    """A token tried to create a token with more bots, more rights or a longer life than its own."""

    code = "token_scope_too_wide"
    http_status = 403


class IdempotencyKeyReused(IntegrationError):
    """The same `Idempotency-Key` came with a different request body."""

    code = "idempotency_key_reused"
    http_status = 422
