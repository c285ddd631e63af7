"""The Matrix connector type: what staff may configure, and the frames it reads and writes."""

import pytest
from django.core.exceptions import ValidationError

from conversations.connectors.base import ConnectorIdentity
from conversations.connectors.builtin.matrix import MatrixConnector
from conversations.models import Connector
from conversations.tests.factories import BotFactory
from engine.messages import OutboundMessage

pytestmark = pytest.mark.usefixtures("network_servers")

MATRIX = {
    "homeserver": "https://matrix.example.org",
    "user_id": "@botsite:example.org",
    "rooms": ["#botsite:example.org", "!AbCdEf:example.org:8448"],
}


def config_clean(**config: object) -> dict:
    return MatrixConnector.config_clean({**MATRIX, **config})


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"homeserver": "ftp://matrix.example.org"}, "homeserver"),
        ({"homeserver": "https://"}, "homeserver"),
        ({"user_id": "botsite"}, "user_id"),
        ({"user_id": "@botsite"}, "user_id"),
        ({"user_id": "@Bot Site:example.org"}, "user_id"),
        ({"rooms": ["botsite"]}, "rooms"),
        ({"rooms": ["#botsite"]}, "rooms"),
        ({"rooms": ["#ok:example.org", "@alice:example.org"]}, "rooms"),
        ({"admin_trust": 7}, "admin_trust"),
        ({"burst": 0}, "burst"),
    ],
)
def test_a_wrong_matrix_configuration_is_refused_with_the_field_named(config, field):
    with pytest.raises(ValidationError) as caught:
        config_clean(**config)
    assert field in str(caught.value)


def test_a_matrix_configuration_is_cleaned_and_accepts_invitations_unless_told_not_to():
    cleaned = config_clean(homeserver="https://matrix.example.org/", moderator_trust=50)
    assert cleaned["homeserver"] == "https://matrix.example.org"
    assert config_clean(homeserver="matrix.example.org")["homeserver"] == cleaned["homeserver"]
    assert cleaned["rooms"] == MATRIX["rooms"]
    assert cleaned["auto_join"] is True
    assert cleaned["moderator_trust"] == 50
    assert config_clean(auto_join=False)["auto_join"] is False
    assert MatrixConnector().rooms_configured(cleaned) == MATRIX["rooms"]


@pytest.mark.django_db
def test_a_matrix_connector_is_saved_through_the_models_validation():
    connector = Connector(bot=BotFactory(), kind="matrix", name="matrix", config=MATRIX)
    connector.full_clean()
    assert connector.config["auto_join"] is True


def message(text: str, html: str = "") -> OutboundMessage:
    return OutboundMessage(
        id=7, room_id=1, sender_kind="bot", sender_name="", text=text, html=html, created_at=""
    )


def test_a_reply_with_html_is_sent_with_matrixs_html_and_nothing_that_runs():
    html = (
        '<p onclick="steal()">Posts: <strong>Go</strong> <a href="javascript:x()">x</a>'
        '<a href="https://go.dev" target="_blank">go.dev</a></p><script>alert(1)</script>'
        "<img src=https://example.org/x.png><iframe src=https://example.org></iframe>"
    )
    frame = MatrixConnector().render(message("Posts: Go\ngo.dev", html))

    assert frame["lines"] == ["Posts: Go", "go.dev"]
    assert frame["html"] == (
        '<p>Posts: <strong>Go</strong> <a>x</a><a href="https://go.dev">go.dev</a></p>'
    )


def test_a_plain_reply_has_no_html():
    assert "html" not in MatrixConnector().render(message("pong"))
    assert "html" not in MatrixConnector().render(message("pong", "<script>x</script>"))


def test_an_inbound_frame_keeps_the_matrix_event_id_as_its_identity():
    identity = ConnectorIdentity(
        bot_slug="b",
        room_external_id="1/!room:example.org",
        participant_external_id="1/@alice:example.org",
        participant_name="Alice",
    )
    frame = {"event_id": "$abc:example.org", "text": " !ping ", "addressed": False}
    first = MatrixConnector().parse(frame, identity)
    again = MatrixConnector().parse(frame, identity)
    other = MatrixConnector().parse({**frame, "event_id": "$def:example.org"}, identity)

    assert first.text == "!ping"
    assert first.connector == "matrix"
    assert first.client_id == again.client_id != other.client_id
