""" "Test connection": a connection of its own to the network, left at once, with a clear
answer. Against a real IRC server (ngircd) on loopback."""

import asyncio
import socket

from bridge.networks import connection_probe
from bridge.tests.ircd import ngircd

IRC = {"host": "127.0.0.1", "tls": False, "nick": "probebot", "channels": ["#probe"]}


def probe(config: dict, secret: str = "", timeout: float = 10.0):
    return asyncio.run(connection_probe("irc", config, secret, timeout=timeout))


def test_a_server_that_takes_the_bot_says_connected_and_the_channels_joined(tmp_path):
    with ngircd(tmp_path) as ircd:
        state = probe({**IRC, "port": ircd.port})
    assert (state.state, state.joined) == ("connected", ["#probe"]), state


def test_a_wrong_server_password_is_named(tmp_path):
    with ngircd(tmp_path, password="opensesame") as ircd:
        refused = probe({**IRC, "port": ircd.port, "auth": "server"}, secret="wrong")
        taken = probe({**IRC, "port": ircd.port, "auth": "server"}, secret="opensesame")
    assert refused.state == "failing"
    assert "password" in refused.detail.lower(), refused.detail
    assert taken.state == "connected", taken


def test_nothing_listening_is_a_refused_connection():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    state = probe({**IRC, "port": port})
    assert state.state == "failing"
    assert str(port) in state.detail or "refused" in state.detail.lower(), state.detail


def test_a_server_that_never_answers_times_out_with_the_wait_named():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        state = probe({**IRC, "port": silent.getsockname()[1]}, timeout=1.0)
    assert (state.state, state.detail) == ("failing", "no answer within 1 s"), state
