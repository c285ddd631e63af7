"""Connectors: their configuration, their sealed passwords, who holds them, their rooms and
what is still to relay."""

import uuid
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from botsite.sealed import SealBroken, seal, unseal
from bridge.tests.ircd import ngircd
from conversations.connectors.base import ConnectorIdentity, InvalidInbound
from conversations.connectors.builtin.irc import IrcConnector, formatting_strip
from conversations.models import Connector, Message
from conversations.services import connectors as services
from conversations.tests.factories import BotFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("network_servers")]

IRC = {"host": "127.0.0.1", "port": 6667, "tls": False, "nick": "botsite", "channels": ["#a"]}


def connector_make(bot=None, **config) -> Connector:
    connector = Connector(bot=bot or BotFactory(), kind="irc", name="net", config={**IRC, **config})
    connector.full_clean()
    connector.save()
    return connector


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"channels": ["botsite"]}, "channels"),
        ({"channels": ["#ok", "#no way"]}, "channels"),
        ({"nick": "9lives"}, "nick"),
        ({"port": 70000}, "port"),
        ({"host": ""}, "host"),
    ],
)
def test_a_wrong_irc_configuration_is_refused_with_the_field_named(config, field):
    connector = Connector(bot=BotFactory(), kind="irc", name="net", config={**IRC, **config})
    with pytest.raises(ValidationError) as caught:
        connector.full_clean()
    assert field in str(caught.value)


def test_a_password_is_sealed_at_rest_and_opens_with_an_older_key(settings):
    old = Fernet.generate_key().decode()
    settings.CONNECTOR_SECRET_KEYS = [old]
    connector = connector_make()
    services.connector_secret_set(connector=connector, secret="hunter2")
    connector.refresh_from_db()
    assert "hunter2" not in connector.secret_sealed

    settings.CONNECTOR_SECRET_KEYS = [Fernet.generate_key().decode(), old]
    assert services.connector_secret(connector) == "hunter2"
    settings.CONNECTOR_SECRET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SealBroken):
        unseal(connector.secret_sealed)
    assert seal("") == ""
    assert unseal("") == ""


def test_one_bridge_holds_a_connector_until_it_stops_beating():
    connector = connector_make()
    assert [each.pk for each in services.connectors_lease(holder="a")] == [connector.pk]
    assert services.connectors_lease(holder="b") == []

    Connector.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    assert [each.pk for each in services.connectors_lease(holder="b")] == [connector.pk]
    assert not services.connector_status_record(
        holder="a", connector_id=connector.pk, status="connected"
    ), "a bridge that lost the lease is not believed"
    services.connectors_release(holder="b")
    assert [each.pk for each in services.connectors_lease(holder="a")] == [connector.pk]


def test_the_close_of_a_bridges_old_socket_leaves_what_its_new_socket_renewed(settings):
    connector = connector_make()
    old_socket = services.connectors_lease(holder="a")[0].lease_until
    settings.BRIDGE_LEASE_SECONDS += 1  # the new socket renews later, so its lease ends later
    new_socket = services.connectors_lease(holder="a")[0].lease_until
    assert new_socket > old_socket

    services.connectors_release(holder="a", leased_until=old_socket)  # handled late
    connector.refresh_from_db()
    assert (connector.lease_holder, connector.lease_until) == ("a", new_socket)
    services.connectors_release(holder="a", leased_until=new_socket)
    connector.refresh_from_db()
    assert (connector.lease_holder, connector.lease_until) == ("", None)


def test_a_switched_off_connector_is_held_by_no_bridge():
    connector = connector_make()
    Connector.objects.filter(pk=connector.pk).update(is_enabled=False)
    assert services.connectors_lease(holder="a") == []


def test_only_messages_of_held_connectors_are_marked_relayed():
    mine, theirs = connector_make(), connector_make()
    rooms = [
        services.connector_room_open(connector=each, target="#a", is_direct=False)
        for each in (mine, theirs)
    ]
    said = [Message.objects.create(room=room, sender_kind="bot", text="hi") for room in rooms]

    assert services.relays_pending(connector_ids=[mine.pk]) == [said[0]]
    assert (
        services.relays_done(message_ids=[each.pk for each in said], connector_ids=[mine.pk]) == 1
    )
    assert services.relays_pending(connector_ids=[mine.pk, theirs.pk]) == [said[1]]


def test_a_message_older_than_the_horizon_is_not_relayed_any_more(settings):
    settings.BRIDGE_RELAY_HORIZON_SECONDS = 60
    room = services.connector_room_open(connector=connector_make(), target="#a", is_direct=False)
    old = Message.objects.create(room=room, sender_kind="bot", text="old")
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    new = Message.objects.create(room=room, sender_kind="bot", text="new")
    assert services.relays_pending(connector_ids=[room.via_id]) == [new]


def test_two_servers_channels_of_the_same_name_are_two_rooms():
    bot = BotFactory()
    one = services.connector_room_open(
        connector=connector_make(bot), target="#help", is_direct=False
    )
    other = Connector.objects.create(bot=bot, kind="irc", name="other", config=IRC)
    two = services.connector_room_open(connector=other, target="#help", is_direct=False)
    assert one.pk != two.pk
    assert one.title == two.title == "#help"


IDENTITY = ConnectorIdentity(
    bot_slug="b", room_external_id="1/#a", participant_external_id="1/alice", participant_name="a"
)


def test_an_inbound_frame_loses_its_formatting_and_keeps_one_id_per_event():
    frame = {"event_id": "e1", "text": "\x02!ping\x02 \x0304,01red\x03", "addressed": True}
    first = IrcConnector().parse(frame, IDENTITY)
    again = IrcConnector().parse(frame, IDENTITY)
    other = IrcConnector().parse({**frame, "event_id": "e2"}, IDENTITY)

    assert first.text == "!ping red"
    assert first.is_addressed
    assert first.client_id == again.client_id != other.client_id
    assert isinstance(first.client_id, uuid.UUID)
    assert formatting_strip("\x1d\x1f\x16\x0f\x1e\x11plain\x04ff0000") == "plain"


@pytest.mark.parametrize(
    "frame",
    [
        {"text": "hi"},
        {"event_id": "", "text": "hi"},
        {"event_id": "e", "text": "\x02\x02"},
        {"event_id": "e", "text": "a\x00b"},
        {"event_id": "e", "text": 5},
        {"event_id": "e", "text": "x" * 4001},
        ["not", "an", "object"],
    ],
)
def test_an_inbound_frame_that_cannot_be_stored_is_refused(frame):
    with pytest.raises(InvalidInbound):
        IrcConnector().parse(frame, IDENTITY)


def test_staff_test_a_connection_from_the_admin_and_read_what_the_server_said(
    admin_client, tmp_path, network_servers
):
    with ngircd(tmp_path, password="opensesame") as ircd:
        network_servers.append(f"127.0.0.1:{ircd.port}")
        good = connector_make(port=ircd.port, auth="server", nick="probegood")
        services.connector_secret_set(connector=good, secret="opensesame")
        bad = connector_make(port=ircd.port, auth="server", nick="probebad")
        bad.name = "wrong password"
        bad.save()
        page = admin_client.post(
            reverse("admin:conversations_connector_changelist"),
            {"action": "connection_test", "_selected_action": [good.pk, bad.pk]},
            follow=True,
        )
    shown = [(m.level_tag, m.message) for m in page.context["messages"]]
    assert ("success", f"{good}: Connected; joined #a.") in shown
    assert ("error", f"{bad}: Could not connect: Access denied: Bad password?") in shown


@pytest.mark.parametrize("host", ["10.0.0.5", "127.0.0.1", "localhost", "169.254.169.254"])
def test_a_server_on_a_private_or_local_address_is_refused_unless_operators_allow_it(
    host, network_servers
):
    connector = Connector(
        bot=BotFactory(), kind="irc", name="inside", config={**IRC, "host": host, "port": 6697}
    )
    with pytest.raises(ValidationError) as caught:
        connector.full_clean()
    assert "private or local address" in str(caught.value)

    network_servers.append(f"{host}:6697")
    connector.full_clean()


def test_a_name_that_resolves_inside_is_refused_and_the_test_connects_nowhere(dns, settings):
    connector = connector_make()  # saved while operators allowed its server
    dns["irc.example.org"] = ["10.1.2.3"]
    Connector.objects.filter(pk=connector.pk).update(
        config={**IRC, "host": "irc.example.org", "port": 6697}
    )
    connector.refresh_from_db()

    result = services.connector_probe(connector)

    assert not result.is_connected
    assert result.detail == (
        "The settings are refused: host: irc.example.org is a private or local address; "
        "it is not allowed."
    )
