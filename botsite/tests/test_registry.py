import pytest
from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError

from actions.registry import action_types
from botsite.registry import Plugin, Registry, UnknownPluginError
from conversations.connectors.registry import connector_types
from conversations.middleware.registry import middleware_types
from publishers.registry import publisher_types

ALL_REGISTRIES = [action_types, middleware_types, connector_types, publisher_types]


class GreetingPlugin(Plugin):
    """Greets someone by name."""

    key = "greeting"
    label = "Greeting"
    example_config = {"name": "Ada", "times": 2}

    class ConfigForm(forms.Form):
        name = forms.CharField(max_length=20)
        times = forms.IntegerField(min_value=1, required=False)


@pytest.fixture
def registry():
    return Registry("thing")


def test_registered_type_is_found_by_key_and_listed_in_choices(registry):
    registry.register(GreetingPlugin)

    assert registry.get("greeting") is GreetingPlugin
    assert "greeting" in registry
    assert registry.choices() == [("greeting", "Greeting")]


def test_a_second_type_with_a_taken_key_is_refused(registry):
    registry.register(GreetingPlugin)
    impostor = type("Impostor", (GreetingPlugin,), {"__doc__": "x"})

    with pytest.raises(ImproperlyConfigured, match="taken by GreetingPlugin"):
        registry.register(impostor)


@pytest.mark.parametrize("key", ["Greeting", "greet-ing", "", "9lives"])
def test_keys_that_are_not_snake_case_are_refused(registry, key):
    plugin = type("Bad", (GreetingPlugin,), {"key": key})

    with pytest.raises(ImproperlyConfigured, match="snake_case"):
        registry.register(plugin)


def test_an_unknown_key_raises_a_clear_error_and_labels_as_unavailable(registry):
    with pytest.raises(UnknownPluginError, match="No thing type 'gone'"):
        registry.get("gone")
    assert registry.label_for("gone") == "unavailable (gone)"


def test_override_adds_types_for_a_block_only(registry):
    with registry.override(GreetingPlugin):
        assert "greeting" in registry
    assert "greeting" not in registry


def test_config_clean_returns_cleaned_values(registry):
    registry.register(GreetingPlugin)

    assert registry.config_clean("greeting", {"name": "Ada", "times": "3"}) == {
        "name": "Ada",
        "times": 3,
    }


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"times": 2}, "name: This field is required."),
        ({"name": "Ada", "colour": "red"}, "Unknown configuration keys: colour."),
        (["Ada"], "must be a JSON object"),
    ],
)
def test_config_clean_rejects_bad_configs_under_the_config_field(registry, config, message):
    registry.register(GreetingPlugin)

    with pytest.raises(ValidationError) as caught:
        registry.config_clean("greeting", config)

    assert message in " ".join(caught.value.message_dict["config"])


def test_config_clean_of_an_unknown_key_blames_the_kind_field(registry):
    with pytest.raises(ValidationError) as caught:
        registry.config_clean("gone", {})

    assert "kind" in caught.value.message_dict


@pytest.mark.parametrize(
    "plugin",
    [plugin for registry in ALL_REGISTRIES for plugin in registry],
    ids=lambda plugin: f"{plugin.__module__}.{plugin.__name__}",
)
def test_every_registered_type_honours_the_plugin_contract(plugin, dns):
    # Example configs name example hosts; outbound URLs are resolved when they are saved.
    # Connectors' example servers are checked the same way.
    for host in ["api.example.com", "blog.example.com", "irc.libera.chat", "matrix.org",
                 "irc.chat.twitch.tv", "example.org"]:  # fmt: skip
        dns[host] = ["93.184.215.14"]
    assert plugin.label
    assert plugin.description(), "the first docstring line is what help and the admin show"
    assert plugin.config_clean(plugin.example_config) is not None


@pytest.mark.parametrize(
    ("registry", "built_ins"),
    [
        (action_types, {"help", "say"}),
        (middleware_types, {"ignore_list"}),
        (connector_types, {"webchat"}),
        (publisher_types, {"manual"}),
    ],
)
def test_each_kind_has_its_built_ins_registered(registry, built_ins):
    assert built_ins <= {key for key, _ in registry.choices()}
