"""The built-in action types; importing this package registers them."""

from actions.builtin import help, say

__all__ = ["help", "say"]
