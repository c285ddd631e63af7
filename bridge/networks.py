"""The networks the bridge connects to, by connector kind (`Connector.kind` in Botsite)."""

from bridge.connection import Connection
from bridge.irc import IrcConnection, TwitchConnection

connection_types: dict[str, type[Connection]] = {
    connection.kind: connection for connection in (IrcConnection, TwitchConnection)
}
