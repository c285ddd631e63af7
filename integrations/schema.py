"""OpenAPI: every operation documents our error shape beside its own answers."""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: invalid, not_found, …")
    detail = serializers.CharField(help_text="For people.")
    fields = serializers.DictField(
        required=False,
        child=serializers.JSONField(),
        help_text="With code `invalid`: the messages for each field of the request.",
    )


ERRORS_ALWAYS = {
    "401": "No valid credentials (token missing, invalid, revoked or expired).",
    "403": "Not allowed (e.g. a read-only token on a write).",
    "406": "The Accept header asks for a format the API does not speak.",
    "429": "Too many requests for this token; retry after `Retry-After` seconds.",
}
ERRORS_WITH_INPUT = {
    "400": "Invalid input; `fields` says what is wrong with each field.",
    "413": "The request body is over the limit.",
    "415": "The Content-Type is not supported (send application/json).",
}


class ErrorDocumentingAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        errors = dict(ERRORS_ALWAYS)
        if self.method in ("POST", "PUT", "PATCH"):
            errors.update(ERRORS_WITH_INPUT)
        if self.method == "GET" and self._is_list_view():
            errors["400"] = "Invalid filter, ordering or cursor."
        if "{" in self.path or self.path.startswith("/api/v1/"):
            errors["404"] = "No such object among the ones this caller may see."
        for code, description in errors.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = description
                responses[code] = response
        return responses
