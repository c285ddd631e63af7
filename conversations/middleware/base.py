"""The contract of a middleware type: one stage of a bot's ordered message stack."""

from abc import ABC, abstractmethod
from typing import Any

from botsite.registry import Plugin
from engine.middleware import MiddlewareContext, MiddlewareDrop, MiddlewareMessage

# A middleware plugin imports what it needs from here; the engine defines the contract.
__all__ = ["MiddlewareContext", "MiddlewareDrop", "MiddlewareMessage", "MiddlewareType"]


class MiddlewareType(Plugin, ABC):
    """Base of middleware types. One concern each; no per-message state on `self`."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    @abstractmethod
    def process(
        self, message: MiddlewareMessage, ctx: MiddlewareContext
    ) -> MiddlewareMessage | MiddlewareDrop | None:
        """Called for every message of the bot, in stack order, before parsing.

        Return the message unchanged to pass it on, a changed copy (`dataclasses.replace`)
        to rewrite it, or None to drop it: a dropped message is stored but not answered.
        `MiddlewareDrop(reply)` drops it too, and gives that one reply instead.
        """
