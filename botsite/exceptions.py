"""The base of every error our services raise; edges turn them into clear answers."""


class BotsiteError(Exception):
    """An expected failure with a stable machine-readable code and a human detail."""

    code = "error"
    #: What an HTTP edge answers with; each error says its own, so the edge needs to know
    #: no app's errors (`botsite/api.py`).
    http_status = 400

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
