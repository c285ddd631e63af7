"""Call a JSON HTTP API and answer with a template filled from its answer."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from django import forms

from actions.base import ActionContext, ActionType
from actions.exceptions import ActionFailed
from actions.registry import action_types
from botsite import http
from botsite.jsonpath import path_get
from engine.messages import ActionCall, Response
from engine.render import TemplateError, template_fill, template_names


@dataclass(frozen=True)
class HttpJsonArgs:
    query: str | None = None


def _path_get(document: Any, path: str) -> Any:
    """A scalar at a dotted path of the answer; None where it is missing or not a scalar."""
    value = path_get(document, path)
    return value if isinstance(value, str | int | float | bool) or value is None else None


class HttpJsonConfigForm(forms.Form):
    url = forms.CharField(
        max_length=1000,
        help_text="http(s) URL; {query} is replaced by what the user asked, URL-encoded. "
        "Private and local addresses are refused.",
    )
    # The config's key is `fields`; Django's form metaclass takes declared fields off the
    # class, so this never shadows `Form.fields` at run time.
    fields = forms.JSONField(  # type: ignore[assignment]
        help_text='Values for the reply: {"temp": "main.temp", "city": "name"} '
        "(dotted paths into the JSON answer)."
    )
    reply = forms.CharField(max_length=2000, help_text="E.g. It is {temp}° in {city}.")

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        if not url.startswith(("http://", "https://")):
            raise forms.ValidationError("The URL must start with http:// or https://.")
        if set(_names(url)) - {"query"}:
            raise forms.ValidationError("Only {query} may appear in the URL.")
        if "{" in urlsplit(url).netloc:
            # What a user types must never choose the host (or port) the bot calls.
            raise forms.ValidationError("{query} may appear in the path or query, not the host.")
        http.url_validator(template_fill(url, {"query": ""}))
        return url

    def clean_fields(self) -> dict[str, str]:
        fields = self.cleaned_data["fields"]
        if not isinstance(fields, dict) or not all(
            isinstance(name, str) and isinstance(path, str) for name, path in fields.items()
        ):
            raise forms.ValidationError("Map each name to a dotted path (text).")
        return fields

    def clean_reply(self) -> str:
        reply: str = self.cleaned_data["reply"]
        _names(reply)
        return reply


def _names(text: str) -> list[str]:
    try:
        return template_names(text)
    except TemplateError as error:
        raise forms.ValidationError(str(error)) from error


@action_types.register
class HttpJsonAction(ActionType):
    """Asks a JSON web API and answers from its reply."""

    key = "http_json"
    label = "HTTP JSON call"
    Args = HttpJsonArgs
    ConfigForm = HttpJsonConfigForm
    example_config = {
        "url": "https://api.example.com/weather?q={query}",
        "fields": {"temp": "main.temp", "city": "name"},
        "reply": "It is {temp}° in {city}.",
    }

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        if ctx.http is None:
            raise ActionFailed("web requests are not available here.")
        query = HttpJsonArgs(**call.arguments).query or ""
        url = template_fill(self.config["url"], {"query": quote(query, safe="")})
        document = ctx.http.json_get(url)
        values = {name: _path_get(document, path) for name, path in self.config["fields"].items()}
        values["query"] = query
        return [
            Response(
                text=template_fill(self.config["reply"], values),
                template=f"http_json_{call.action.name}".replace("-", "_"),
                values=values,
            )
        ]
