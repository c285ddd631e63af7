"""Model fields shared by several apps."""

from typing import Any

from django import forms
from django.db import models


class StringListFormField(forms.CharField):
    """Edits a list of short strings as comma-separated text."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value: Any) -> list[str]:
        items = value if isinstance(value, list) else (super().to_python(value) or "").split(",")
        seen: dict[str, None] = {}
        for item in items:
            cleaned = str(item).strip()
            if cleaned:
                seen.setdefault(cleaned, None)
        return list(seen)


class StringListField(models.JSONField):
    """A JSON list of strings, edited in forms as comma-separated text."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", list)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if kwargs.get("default") is list:
            del kwargs["default"]
        if kwargs.get("blank") is True:
            del kwargs["blank"]
        return name, path, args, kwargs

    def formfield(self, **kwargs: Any) -> Any:
        return StringListFormField(
            required=not self.blank,
            label=self.verbose_name.capitalize(),
            help_text=self.help_text,
        )

    def validate(self, value: Any, model_instance: Any) -> None:
        super().validate(value, model_instance)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise forms.ValidationError("Must be a list of strings.")
