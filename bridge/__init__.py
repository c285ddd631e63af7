"""The bridge: a process of its own that holds the bots' connections to networks that keep
one open (IRC, ...) and talks to Botsite over one WebSocket (docs/bridge-protocol.md).

Plain asyncio, no Django: it keeps its networks up, and answers a status command there,
while Botsite's web processes are redeployed or down.
"""
