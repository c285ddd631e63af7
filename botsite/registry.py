"""The one plugin pattern that actions, middleware, connectors and publishers share.

Code defines plugin *types* (a class with a stable `key`); staff configure *rows* that store
that key and a JSON config. Each kind has one `Registry` of its types: the built-ins
register themselves when their app's `builtin` package is imported, and types of installed
packages through an entry point group of the kind (`Registry.entry_points_register`).
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any, ClassVar, Generic, TypeVar

from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


class UnknownPluginError(LookupError):
    """A row names a plugin key that no registered type has (removed or misspelt)."""


class NoConfigForm(forms.Form):
    """What staff configure for one row of a type that takes no configuration."""


class Plugin:
    """Base of every plugin type: identity, a config form and an example config."""

    key: ClassVar[str]
    label: ClassVar[str]
    #: What staff configure for one row of this type (a form's fields, validated).
    ConfigForm: ClassVar[type[forms.Form]] = NoConfigForm

    #: A config that `ConfigForm` accepts; shown in the admin and used by contract tests.
    example_config: ClassVar[dict[str, Any]] = {}

    @classmethod
    def description(cls) -> str:
        """The first line of the docstring: what help pages and the admin show."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def config_clean(cls, config: Any) -> dict[str, Any]:
        """Validate a row's config with `ConfigForm`; return its cleaned, JSON-safe values.

        Raises `ValidationError` with the form's messages, keyed by config field.
        """
        if not isinstance(config, dict):
            raise ValidationError("The configuration must be a JSON object.")
        form = cls.ConfigForm(data=config)
        if not form.is_valid():
            raise ValidationError(
                [f"{field}: {' '.join(map(str, errors))}" for field, errors in form.errors.items()]
            )
        unknown = sorted(set(config) - set(form.fields))
        if unknown:
            raise ValidationError(f"Unknown configuration keys: {', '.join(unknown)}.")
        return dict(form.cleaned_data)


P = TypeVar("P", bound=type[Plugin])


class Registry(Generic[P]):
    """Plugin types of one kind, by key."""

    def __init__(self, kind: str, *, contract: type[Plugin] = Plugin, group: str = "") -> None:
        self.kind = kind
        #: What every type of this kind subclasses.
        self.contract = contract
        #: The entry point group installed packages name their types under.
        self.group = group
        self._types: dict[str, P] = {}

    def register(self, plugin: P) -> P:
        """Class decorator: add a plugin type. Keys are stored in the database; never reuse one."""
        key = getattr(plugin, "key", None)
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            raise ImproperlyConfigured(f"{plugin.__name__}.key must be snake_case, got {key!r}.")
        if not getattr(plugin, "label", None):
            raise ImproperlyConfigured(f"{plugin.__name__} needs a label.")
        existing = self._types.get(key)
        if existing is not None and existing is not plugin:
            raise ImproperlyConfigured(
                f"{self.kind} key {key!r} is taken by {existing.__name__}; "
                f"{plugin.__name__} needs another."
            )
        self._types[key] = plugin
        return plugin

    def entry_points_register(self) -> list[P]:
        """Register the types that installed packages name under this kind's entry point
        group, as a plugin package's `pyproject.toml` does with
        `[project.entry-points."botsite.actions"]` and `echo = "my_package:EchoAction"`;
        returns them. Botsite is not edited: installing the package is enough.

        A type that cannot be loaded, is not of this kind, or takes a key already taken
        stops the start-up with `ImproperlyConfigured` naming the package: running without
        it would leave the rows that use it "unavailable".
        """
        registered = []
        for entry_point in metadata.entry_points(group=self.group) if self.group else ():
            package = entry_point.dist.name if entry_point.dist else "an installed package"
            where = f"{self.kind} plugin {entry_point.name!r} of {package} ({entry_point.value})"
            try:
                plugin = entry_point.load()
            except Exception as error:
                raise ImproperlyConfigured(f"The {where} cannot be loaded: {error!r}") from error
            if not (isinstance(plugin, type) and issubclass(plugin, self.contract)):
                raise ImproperlyConfigured(
                    f"The {where} is not a subclass of {self.contract.__name__}."
                )
            try:
                registered.append(self.register(plugin))  # type: ignore[arg-type]
            except ImproperlyConfigured as error:
                raise ImproperlyConfigured(f"The {where}: {error}") from error
        return registered

    def get(self, key: str) -> P:
        try:
            return self._types[key]
        except KeyError:
            raise UnknownPluginError(
                f"No {self.kind} type {key!r} is installed; it may have been removed."
            ) from None

    def __contains__(self, key: object) -> bool:
        return key in self._types

    def __iter__(self) -> Iterator[P]:
        return iter(self._types[key] for key in sorted(self._types))

    def __len__(self) -> int:
        return len(self._types)

    def choices(self) -> list[tuple[str, str]]:
        return [(plugin.key, plugin.label) for plugin in self]

    def label_for(self, key: str) -> str:
        """A label for list pages: never raises, marks keys whose type is gone."""
        plugin = self._types.get(key)
        return plugin.label if plugin else f"unavailable ({key})"

    def config_clean(self, key: str, config: Any) -> dict[str, Any]:
        """Validate a row: its key must be registered and its config accepted by the type.

        Raises `ValidationError` keyed by the row's `kind` or `config` field.
        """
        if key not in self._types:
            raise ValidationError({"kind": f"No {self.kind} type {key!r} is installed."})
        try:
            return self._types[key].config_clean(config)
        except ValidationError as error:
            raise ValidationError({"config": error.messages}) from error

    @contextmanager
    def override(self, *plugins: P) -> Iterator[None]:
        """Register plugins for the duration of a block (tests), restoring the registry after."""
        saved = dict(self._types)
        try:
            for plugin in plugins:
                self._types[plugin.key] = plugin
            yield
        finally:
            self._types = saved
