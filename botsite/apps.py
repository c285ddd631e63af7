from django.apps import AppConfig


class BotsiteConfig(AppConfig):
    """The project package as an app: it holds the commands that wire processes together."""

    name = "botsite"
    verbose_name = "Botsite"
