import pytest
from django.core.exceptions import ValidationError

from actions.base import ActionContext
from actions.builtin.http_json import HttpJsonAction
from actions.exceptions import ActionFailed
from engine.messages import ActionCall
from engine.tests import snapshots

CONFIG = {
    "url": "https://api.example.com/weather?q={query}",
    "fields": {"temp": "main.temp", "city": "name", "first": "alerts.0.title"},
    "reply": "{city}: {temp}°. {first}",
}


class HttpInMemory:
    def __init__(self, document):
        self.document = document
        self.urls = []

    def json_get(self, url):
        self.urls.append(url)
        if isinstance(self.document, Exception):
            raise self.document
        return self.document


def run(document, query="Oslo fjord"):
    http = HttpInMemory(document)
    ctx = ActionContext(
        bot=snapshots.bot(), room=snapshots.DIRECT_ROOM, participant=None, http=http
    )
    call = ActionCall(
        action=snapshots.action("weather", kind="http_json"),
        arguments={"query": query},
        source="test",
    )
    return HttpJsonAction(CONFIG).run(call, ctx), http


def test_the_answer_fills_the_reply_and_the_query_is_url_encoded():
    document = {"name": "Oslo", "main": {"temp": 4}, "alerts": [{"title": "Wind"}]}

    [response], http = run(document)

    assert response.text == "Oslo: 4°. Wind"
    assert http.urls == ["https://api.example.com/weather?q=Oslo%20fjord"]


def test_missing_or_non_plain_values_leave_their_place_empty():
    [response], _ = run({"name": {"nested": "object"}, "main": {}})

    assert response.text == ": °. "


def test_a_failing_call_fails_the_action():
    with pytest.raises(ActionFailed):
        run(ActionFailed("The server answered 503.", retryable=True))


@pytest.mark.parametrize(
    "config",
    [
        {**CONFIG, "url": "ftp://x/{query}"},
        {**CONFIG, "url": "https://x/{secret}"},
        {**CONFIG, "fields": ["temp"]},
        {**CONFIG, "reply": "{main.temp}"},
    ],
)
def test_configs_that_could_misbehave_are_refused(config):
    with pytest.raises(ValidationError):
        HttpJsonAction.config_clean(config)
