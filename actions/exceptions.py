from botsite.exceptions import BotsiteError


class ActionError(BotsiteError):
    code = "action_error"


class ActionFailed(ActionError):
    """Raised by an action's `run`: `reason` is shown to the user; retryable ones are retried."""

    code = "action_failed"

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.retryable = retryable


class ActionRunRetry(Exception):
    """Try the run again after `countdown`: it failed in a way worth retrying, or its task
    came before the run was due."""

    def __init__(self, countdown: float) -> None:
        super().__init__(countdown)
        self.countdown = countdown
