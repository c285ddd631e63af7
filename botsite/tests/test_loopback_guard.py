"""The suite's own guard (conftest `_loopback_only`): tests reach loopback and nothing else."""

import socket

import pytest


@pytest.mark.parametrize(
    "address", [("93.184.215.14", 80), ("10.0.0.5", 6379), ("2001:db8::1", 80)]
)
def test_a_test_that_connects_beyond_loopback_fails_before_the_connection_is_tried(address):
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family) as probe, pytest.raises(AssertionError, match="beyond loopback"):
        probe.connect(address)


def test_loopback_stays_reachable():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname(), timeout=2):
            pass
