from django.apps import AppConfig


class PublishersConfig(AppConfig):
    name = "publishers"
    verbose_name = "Publishing"

    def ready(self) -> None:
        from publishers import builtin  # noqa: F401
        from publishers.registry import publisher_types

        publisher_types.entry_points_register()
