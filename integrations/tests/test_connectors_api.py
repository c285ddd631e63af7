"""Connectors over the REST API: the password goes in and never comes out."""

import socket

import pytest
from django.urls import reverse

from conversations.models import Connector
from conversations.services.connectors import connector_secret

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("network_servers")]

IRC = {"host": "127.0.0.1", "port": 6667, "nick": "newbot", "channels": ["#new"]}


def test_a_password_set_through_the_api_is_stored_sealed_and_never_returned(own, api):
    tenant = own
    created = api.post(
        reverse("api:connector-list"),
        {
            "bot": tenant.bot.slug,
            "kind": "irc",
            "name": "libera",
            "config": IRC,
            "password": "hunter2",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    connector = Connector.objects.get(pk=body["id"])
    assert body["has_password"] is True
    assert "hunter2" not in created.content.decode()
    assert "secret_sealed" not in body
    assert connector_secret(connector) == "hunter2"
    assert "hunter2" not in connector.secret_sealed

    read = api.get(reverse("api:connector-detail", args=[connector.pk]))
    assert "hunter2" not in read.content.decode()
    renamed = api.patch(
        reverse("api:connector-detail", args=[connector.pk]), {"name": "Libera"}, format="json"
    )
    assert renamed.status_code == 200
    assert connector_secret(connector) == "hunter2", "a write without a password keeps it"
    api.patch(reverse("api:connector-detail", args=[connector.pk]), {"password": ""}, format="json")
    connector.refresh_from_db()
    assert connector.secret_sealed == ""


def test_the_state_the_bridge_reports_cannot_be_written_through_the_api(own, api):
    tenant = own
    api.patch(
        reverse("api:connector-detail", args=[tenant.connector.pk]),
        {"status": "connected", "lease_holder": "me"},
        format="json",
    )
    tenant.connector.refresh_from_db()
    assert (tenant.connector.status, tenant.connector.lease_holder) == ("offline", "")


def test_a_room_cannot_be_pointed_at_a_connector_through_the_api(own, foreign, api):
    """Rooms meet their connector through the bridge; the API must not move them, least
    of all onto another tenant's connector."""
    response = api.patch(
        reverse("api:room-detail", args=[own.room.pk]), {"via": foreign.connector.pk}, format="json"
    )
    own.room.refresh_from_db()
    assert response.status_code == 200
    assert own.room.via_id is None


def test_a_connection_test_through_the_api_says_why_it_failed(own, api, network_servers):
    with socket.socket() as placeholder:  # a loopback port nothing listens on
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    network_servers.append(f"127.0.0.1:{port}")
    connector = Connector.objects.create(
        bot=own.bot, kind="irc", name="nowhere", config={**IRC, "port": port, "tls": False}
    )
    answer = api.post(reverse("api:connector-test", args=[connector.pk]))
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["connected"] is False
    assert body["detail"].startswith("Could not connect:"), body
    assert str(port) in body["detail"], body


def test_another_tenants_connector_cannot_be_tested(foreign, api):
    connector = Connector.objects.create(
        bot=foreign.bot, kind="irc", name="theirs", config={**IRC, "tls": False}
    )
    assert api.post(reverse("api:connector-test", args=[connector.pk])).status_code == 404


def test_the_api_refuses_a_connector_aimed_at_a_private_address(own, api):
    answer = api.post(
        reverse("api:connector-list"),
        {"bot": own.bot.slug, "kind": "irc", "name": "inside",
         "config": {**IRC, "host": "192.168.1.10"}},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 400, answer.content
    assert "private or local address" in answer.content.decode()
    assert not Connector.objects.filter(name="inside").exists()
