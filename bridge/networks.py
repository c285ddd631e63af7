"""The networks the bridge connects to, by connector kind (`Connector.kind` in Botsite)."""

from typing import Any

from bridge.connection import Connection, ConnectionState
from bridge.irc import IrcConnection, TwitchConnection
from bridge.matrix import MatrixConnection
from bridge.xmpp import XmppConnection

connection_types: dict[str, type[Connection]] = {
    connection.kind: connection
    for connection in (IrcConnection, MatrixConnection, TwitchConnection, XmppConnection)
}


async def connection_probe(
    kind: str, config: dict[str, Any], secret: str, *, timeout: float
) -> ConnectionState:
    """Whether the network takes the bot with these settings, from a connection of its own
    (the running one, if any, is left alone)."""

    async def nowhere(*args: object) -> None:
        return None

    connection = connection_types[kind](
        0, config, secret, deliver=nowhere, sent=nowhere, local_answer=lambda text: None
    )
    return await connection.probe(timeout=timeout)
