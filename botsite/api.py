"""REST wiring: the v1 URL list and the one error shape, `{"code": ..., "detail": ...}`."""

from typing import Any

from django.core.exceptions import RequestDataTooBig
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from botsite.database_outage import RETRY_AFTER_SECONDS, database_outage_log, is_database_outage
from botsite.exceptions import BotsiteError


def exception_handler(error: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(error, RequestDataTooBig):  # a form body past DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response({"code": "request_too_large", "detail": str(error)}, status=413)
    if is_database_outage(error):
        database_outage_log(error, "API clients")
        response = Response(
            {"code": "database_unavailable", "detail": "The database cannot be reached; retry."},
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response
    if isinstance(error, BotsiteError):
        body = {"code": error.code, "detail": error.detail}
        if getattr(error, "fields", None):
            body["fields"] = error.fields  # type: ignore[attr-defined]
        return Response(body, status=error.http_status)
    response = drf_exception_handler(error, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        code = getattr(response.data["detail"], "code", "error")
        response.data = {"code": code, "detail": str(response.data["detail"])}
    elif response is not None:
        response.data = {"code": "invalid", "detail": "Invalid input.", "fields": response.data}
    return response
