from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "actions"
    verbose_name = "Actions"

    def ready(self) -> None:
        from actions import builtin  # noqa: F401
        from actions.registry import action_types
        from actions.snapshots import CONFIG_MODELS
        from conversations.config import config_signals_connect

        action_types.entry_points_register()
        config_signals_connect(*CONFIG_MODELS)
