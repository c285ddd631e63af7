"""Make daphne's WebSocket size limit visible to clients as close code 1009.

daphne passes `--websocket-max-message-size` / `--websocket-max-frame-size` (and, in
`runembedded`, the `DAPHNE_WEBSOCKET_MAX_*` settings) to autobahn, which refuses an
oversized frame as soon as its header announces the length, before buffering it. But
autobahn "fails by drop" by default: it resets the TCP connection instead of closing with
1009, so a client cannot tell why it was cut off. This turns that off for daphne's factory.
"""

from typing import Any


def close_oversized_frames_cleanly(factory_class: type) -> None:
    """Patch `factory_class.setProtocolOptions` once so every server uses failByDrop=False."""
    if getattr(factory_class, "_botsite_closes_cleanly", False):
        return
    original = factory_class.setProtocolOptions

    def set_protocol_options(self: Any, *args: Any, **options: Any) -> Any:
        options.setdefault("failByDrop", False)
        return original(self, *args, **options)

    factory_class.setProtocolOptions = set_protocol_options
    factory_class._botsite_closes_cleanly = True
