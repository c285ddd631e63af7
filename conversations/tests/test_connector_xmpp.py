"""The XMPP connector type without a network: what staff may configure, frames parsed."""

import pytest

from bridge.tests.prosody import certificate_write
from conversations.connectors.base import ConnectorIdentity
from conversations.connectors.builtin.xmpp import XmppConfigForm, XmppConnector

pytestmark = pytest.mark.usefixtures("network_servers")

XMPP = {"jid": "botsite@example.org", "rooms": ["botsite@conference.example.org"]}


def cleaned(**config) -> dict:
    form = XmppConfigForm(data={**XMPP, **config})
    assert form.is_valid(), form.errors
    return form.cleaned_data


def refused(**config) -> dict:
    form = XmppConfigForm(data={**XMPP, **config})
    assert not form.is_valid()
    return form.errors


def test_an_xmpp_configuration_gets_starttls_the_default_port_and_the_jids_name_as_nick():
    config = cleaned(jid="BotSite@Example.ORG", host="xmpp.example.org")

    assert config["jid"] == "botsite@example.org"
    assert config["tls"] == "starttls"
    assert config["port"] == 5222
    assert config["nick"] == "botsite"
    assert config["tls_insecure"] is False
    assert cleaned(tls="direct", host="xmpp.example.org")["port"] == 5223
    assert cleaned()["port"] is None  # no host: the JID's domain tells (DNS SRV)


def test_rooms_are_bare_jids_compared_as_xmpp_does():
    rooms = cleaned(rooms="Botsite@Conference.example.org, botsite@conference.example.org")

    assert rooms["rooms"] == ["botsite@conference.example.org"]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"jid": "example.org"}, "jid"),
        ({"jid": "bot@example.org/phone"}, "jid"),
        ({"jid": "bot@exa mple.org"}, "jid"),
        ({"rooms": ["#botsite"]}, "rooms"),
        ({"rooms": ["room@conference.example.org/nick"]}, "rooms"),
        ({"tls": "plaintext", "host": "xmpp.example.org"}, "tls"),
        ({"tls": "plaintext"}, "tls"),
        ({"tls": "sometimes"}, "tls"),
        ({"tls_ca": "-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----"}, "tls_ca"),
        ({"port": 0, "host": "xmpp.example.org"}, "port"),
        ({"owner_trust": 7}, "owner_trust"),
    ],
)
def test_a_wrong_xmpp_configuration_is_refused_with_the_field_named(config, field):
    assert field in refused(**config)


def test_plaintext_is_taken_only_to_a_server_on_this_machine():
    assert cleaned(tls="plaintext", host="127.0.0.1")["port"] == 5222
    assert cleaned(tls="plaintext", host="::1")["tls"] == "plaintext"


def test_a_servers_own_certificate_may_be_trusted(tmp_path):
    pem = certificate_write(tmp_path)

    assert cleaned(tls_ca=pem)["tls_ca"] == pem.strip()


def test_an_inbound_xmpp_frame_keeps_one_id_per_event_and_says_whether_it_was_addressed():
    identity = ConnectorIdentity(
        bot_slug="b",
        room_external_id="1/botsite@conference.example.org",
        participant_external_id="1/alice@example.org",
        participant_name="alice",
    )
    frame = {"event_id": "xmpp-1", "text": " get me the latest post ", "addressed": True}

    first = XmppConnector().parse(frame, identity)
    again = XmppConnector().parse(frame, identity)
    other = XmppConnector().parse({**frame, "event_id": "xmpp-2"}, identity)

    assert first.text == "get me the latest post"
    assert first.is_addressed
    assert first.connector == "xmpp"
    assert first.client_id == again.client_id != other.client_id
    assert XmppConnector().rooms_configured(cleaned()) == ["botsite@conference.example.org"]
