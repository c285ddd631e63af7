from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = "Conversations"

    def ready(self) -> None:
        # Registering the built-in plugin types: one short, visible list per kind.
        from conversations.config import (
            CONFIG_MODELS,
            config_signals_connect,
            memory_signals_connect,
        )
        from conversations.connectors import builtin as connectors  # noqa: F401
        from conversations.connectors.registry import connector_types
        from conversations.middleware import builtin as middleware  # noqa: F401
        from conversations.middleware.registry import middleware_types
        from conversations.services.connectors import connector_signals_connect

        connector_types.entry_points_register()
        middleware_types.entry_points_register()
        config_signals_connect(*CONFIG_MODELS)
        connector_signals_connect()
        memory_signals_connect()
